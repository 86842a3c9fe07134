"""Calling plugin hooks for one tenant — only plugins enabled there, by construction.

The enabled set of a tenant comes from a per-worker cache of activation rows (invalidated by
the "activation" topic); the list of hook implementations for a given (hook, enabled set) is
computed once and reused by every tenant with the same set. Order: plugin dependency order,
then name. Each plugin gets its own context (its settings, its name on what it emits).

Modes (see each hook's *Mode* in ``nentang.sdk.hookspecs``):

- :meth:`Dispatcher.call_all` — strict, every enabled plugin, results in order;
- :meth:`Dispatcher.call_first` — strict, the first non-``None`` result;
- :meth:`Dispatcher.call_one` — strict, one named plugin (enable/disable of that plugin);
- :meth:`Dispatcher.call_robust` — each plugin in a transaction of its own; a failure is
  recorded against the plugin's error budget for the tenant and does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, final

import structlog
from pluggy import HookImpl
from sqlalchemy import select

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.context import KernelTenantContext
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginQuarantine
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.propagation.cache import LoadingCache
from nentang.sdk.context import TenantRef
from nentang.sdk.errors import NotFound


@final
@dataclass(frozen=True, slots=True)
class TenantPlugins:
    """What is enabled for a tenant, as this worker last read it."""

    enabled: frozenset[str]
    settings: Mapping[str, Mapping[str, Any]]


@final
@dataclass(frozen=True, slots=True)
class Outcome:
    plugin: str
    result: Any = None
    error: BaseException | None = None


def activation_cache(db: Database, max_tenants: int = 50_000) -> LoadingCache[int, TenantPlugins]:
    def load(tenant_id: int) -> TenantPlugins:
        with db.tenant(tenant_id) as session:
            rows = session.execute(
                select(PluginActivation.plugin, PluginActivation.settings).where(PluginActivation.enabled.is_(True))
            ).all()
            quarantined = set(
                session.scalars(select(PluginQuarantine.plugin).where(PluginQuarantine.tenant_id == tenant_id))
            )
        usable = {plugin: plugin_settings.loads(text) for plugin, text in rows if plugin not in quarantined}
        return TenantPlugins(enabled=frozenset(usable), settings=usable)

    return LoadingCache(load, max_tenants)


@final
class Dispatcher:
    def __init__(
        self,
        *,
        db: Database,
        host: PluginHost,
        authz: Authorizer,
        audit: AuditLog,
        activations: LoadingCache[int, TenantPlugins],
        budget: ErrorBudget | None = None,
    ) -> None:
        self._db = db
        self._host = host
        self._authz = authz
        self._audit = audit
        self.activations = activations
        self._budget = budget
        self._impls: dict[tuple[str, frozenset[str], int], tuple[HookImpl, ...]] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger("nentang.plugins")
        host.on_change(self._impls.clear)

    # -- what is enabled ------------------------------------------------------------------

    def enabled(self, tenant_id: int) -> frozenset[str]:
        """Plugins enabled for the tenant and registered on this worker."""
        return self.activations.get(tenant_id).enabled.intersection(self._host.plugins)

    def implementations(self, hook: str, tenant_id: int) -> tuple[HookImpl, ...]:
        enabled = self.enabled(tenant_id)
        key = (hook, enabled, self._host.generation)
        impls = self._impls.get(key)
        if impls is None:
            caller = getattr(self._host.pm.hook, hook, None)
            if caller is None:
                raise NotFound(f"no hook named {hook!r}", code="plugin.unknown_hook")
            order = self._order()
            found = [impl for impl in caller.get_hookimpls() if impl.plugin_name in enabled]
            impls = tuple(sorted(found, key=lambda impl: order.get(impl.plugin_name, (1 << 30, impl.plugin_name))))
            with self._lock:
                if len(self._impls) > 10_000:
                    self._impls.clear()
                self._impls[key] = impls
        return impls

    def _order(self) -> dict[str, tuple[int, str]]:
        """Dependencies before their dependents, then by name."""
        depth: dict[str, int] = {}

        def visit(name: str, trail: tuple[str, ...] = ()) -> int:
            if name in depth:
                return depth[name]
            plugin = self._host.plugins.get(name)
            requires = plugin.manifest.requires if plugin else {}
            value = 1 + max((visit(dep, (*trail, name)) for dep in requires if dep not in trail), default=-1)
            depth[name] = value
            return value

        return {name: (visit(name), name) for name in self._host.plugins}

    # -- calling --------------------------------------------------------------------------

    def call_all(
        self, hook: str, tenant: TenantRef, *, actor: str, session: Any, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        results = []
        for impl in self.implementations(hook, tenant.id):
            result = self._invoke(impl, tenant, actor, session, kwargs)
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def call_first(self, hook: str, tenant: TenantRef, *, actor: str, session: Any, **kwargs: Any) -> Any:
        for impl in self.implementations(hook, tenant.id):
            result = self._invoke(impl, tenant, actor, session, kwargs)
            if result is not None:
                return result
        return None

    def call_one(
        self,
        plugin: str,
        hook: str,
        tenant: TenantRef,
        *,
        actor: str,
        session: Any,
        plugin_settings: Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        """Call one plugin's implementation, whether or not it is enabled yet (its own enable);
        ``plugin_settings`` is what its context shows as ``ctx.settings``."""
        caller = getattr(self._host.pm.hook, hook)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == plugin:
                return self._invoke(impl, tenant, actor, session, kwargs, settings=plugin_settings)
        return None

    def call_robust(self, hook: str, tenant: TenantRef, *, actor: str, **kwargs: Any) -> list[Outcome]:
        outcomes = []
        for impl in self.implementations(hook, tenant.id):
            try:
                with self._db.tenant(tenant.id) as session, session.begin():
                    result = self._invoke(impl, tenant, actor, session, kwargs)
            except Exception as exc:
                self._log.warning(
                    "plugin.hook_failed", plugin=impl.plugin_name, hook=hook, tenant=tenant.code, error=repr(exc)
                )
                if self._budget is not None:
                    self._budget.failed(impl.plugin_name, tenant, exc)
                outcomes.append(Outcome(impl.plugin_name, error=exc))
            else:
                if self._budget is not None:
                    self._budget.succeeded(impl.plugin_name, tenant)
                outcomes.append(Outcome(impl.plugin_name, result=result))
        return outcomes

    def _invoke(
        self,
        impl: HookImpl,
        tenant: TenantRef,
        actor: str,
        session: Any,
        kwargs: Mapping[str, Any],
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> Any:
        if settings is None:
            settings = self.activations.get(tenant.id).settings.get(impl.plugin_name, {})
        ctx = KernelTenantContext(
            tenant=tenant,
            plugin=impl.plugin_name,
            actor=actor,
            settings=settings,
            session=session,
            authz=self._authz,
            audit=self._audit,
        )
        available = {"ctx": ctx, **kwargs}
        return impl.function(*[available[name] for name in impl.argnames])
