"""The GraphQL engine of one worker: the schema cache by enabled-plugin set, the persisted-query
registry, the tenant resolver, and the wiring to the change watcher. Built by ``create_app`` (one
per app, nothing global) and closed with it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import final

from nentang.kernel.graphql.batching import install_batch_fields
from nentang.kernel.graphql.build import SchemaBuilder
from nentang.kernel.graphql.cache import SchemaCache
from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.graphql.contributions import Contributions
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import KERNEL_MODULES
from nentang.kernel.graphql.persisted import PersistedQueries
from nentang.kernel.graphql.plugin_resolvers import guard_plugin_resolvers
from nentang.kernel.graphql.served import ServedSchema, SetKey
from nentang.kernel.graphql.tenant import TenantResolver
from nentang.kernel.propagation import topics
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NotFound

#: Bounds of the (enabled names → set key) and (tenant → set key) memos; emptied when full.
_MAX_KEYS = 10_000
_MAX_TENANTS = 100_000


@final
class GraphQLEngine:
    def __init__(
        self, kernel: Kernel, settings: GraphQLSettings | None = None, modules: Sequence[KernelModule] = KERNEL_MODULES
    ) -> None:
        self.kernel = kernel
        self.settings = settings or _settings_of(kernel)
        #: Production hides field suggestions ("Did you mean ...?") from error messages.
        self.production = kernel.settings.mode == "production"
        self.contributions = Contributions(kernel.plugins.host, kernel.plugins.watchdog)
        self.builder = SchemaBuilder(modules, self.contributions, self.settings, hide_suggestions=self.production)
        self.schemas = SchemaCache(
            self._build,
            max_sets=self.settings.schemas,
            retry_after=self.settings.retry_failed_plugins_after,
            before_retry=self.contributions.forget_failures,
        )
        self.persisted = PersistedQueries.load(
            self.settings.persisted_queries_path, only=self.settings.persisted_queries_only
        )
        self.tenants = TenantResolver(kernel, self.settings.tenant_cache_seconds)
        #: One-statement reads of platform tables: on PostgreSQL in autocommit, which saves the
        #: BEGIN and ROLLBACK round trips around a single SELECT.
        engine = kernel.db.app_engine
        self.reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine
        )
        self._keys: dict[frozenset[str], SetKey] = {}
        #: Tenant id → its set, as last read; dropped when the tenant's activations change. A read
        #: that raced with a drop is not kept (the generation check).
        self._tenant_keys: dict[int, SetKey] = {}
        self._generation = 0
        self._closed = False
        kernel.watcher.subscribe(topics.ACTIVATION, self._on_activation)
        kernel.watcher.subscribe(topics.TENANCY, self.tenants.forget)
        kernel.plugins.host.on_change(self._forget_keys)
        self.schemas.get(frozenset())  # the kernel alone, ready for the first request (built above)

    def _build(self, key: SetKey) -> ServedSchema:
        served = self.builder.build(key)
        plugins = self.kernel.plugins
        guard_plugin_resolvers(served, plugins.watchdog, plugins.budget)
        install_batch_fields(served, plugins.watchdog, plugins.budget)  # after the guard: it replaces it
        return served

    # -- which schema serves a tenant -------------------------------------------------------------

    def key_for(self, tenant_id: int) -> SetKey:
        """The tenant's enabled-plugin set, with versions, as this worker serves it now (may read
        the database: call from a worker thread)."""
        generation = self._generation
        names = self.kernel.plugins.dispatcher.enabled(tenant_id)
        key = self._keys.get(names)
        if key is None:
            loaded = self.kernel.plugins.host.plugins
            key = frozenset((name, loaded[name].version) for name in names if name in loaded)
            if len(self._keys) >= _MAX_KEYS:
                self._keys.clear()
            self._keys[names] = key
        if generation == self._generation:
            if len(self._tenant_keys) >= _MAX_TENANTS:
                self._tenant_keys.clear()
            self._tenant_keys[tenant_id] = key
        return key

    def cached_served(self, tenant_id: int) -> ServedSchema | None:
        """The tenant's schema if known without any reading or building (the hot path), else ``None``."""
        key = self._tenant_keys.get(tenant_id)
        return self.schemas.peek(key) if key is not None else None

    def served_for(self, tenant_id: int) -> ServedSchema:
        """The schema for the tenant (built now if its set was never seen; call from a worker thread)."""
        return self.schemas.get(self.key_for(tenant_id))

    def served_for_plugins(self, plugins: Iterable[str]) -> ServedSchema:
        """The schema of the kernel with the given registered plugins (the CLI's ``--plugins``)."""
        loaded = self.kernel.plugins.host.plugins
        missing = sorted(set(plugins) - set(loaded))
        if missing:
            quarantined = self.kernel.plugins.host.quarantined
            reasons = [f"{name} ({quarantined[name].reason})" if name in quarantined else name for name in missing]
            raise NotFound(
                f"not installed and registered: {', '.join(reasons)}; see 'nentang plugin list'",
                code="plugin.not_installed",
            )
        return self.schemas.get(frozenset((name, loaded[name].version) for name in plugins))

    # -- change notifications ---------------------------------------------------------------------

    def _on_activation(self, key: str | None) -> None:
        """A tenant's activations changed (this worker or another): forget its set, and build the
        new set's schema now, in the background, so that its next request finds it ready. (The
        plugin runtime subscribed first, so its activation cache has already dropped the tenant.)"""
        if key is None or not key.isdigit():
            self._forget_keys()
            return
        tenant_id = int(key)
        self._generation += 1
        self._tenant_keys.pop(tenant_id, None)
        if not self._closed:
            self.schemas.prebuild(lambda: self.key_for(tenant_id))

    def _forget_keys(self) -> None:
        self._generation += 1
        self._tenant_keys.clear()
        self._keys.clear()

    def close(self) -> None:
        self._closed = True
        self.schemas.close()


def _settings_of(kernel: Kernel) -> GraphQLSettings:
    settings = getattr(kernel.settings, "graphql", None)
    return settings if isinstance(settings, GraphQLSettings) else GraphQLSettings()
