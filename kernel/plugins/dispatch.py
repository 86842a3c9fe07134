"""Calling plugin hooks for one tenant — only plugins enabled there, by construction.

The enabled set of a tenant comes from a per-worker cache of activation rows (invalidated by
the "activation" topic); the list of hook implementations for a given (hook, enabled set) is
computed once and reused by every tenant with the same set. Order: plugin dependency order,
then name. Each plugin gets its own context (its settings, its name on what it emits).

The hot path (``bench/hook_dispatch.py``): per (hook, tenant) the dispatcher keeps a *plan* —
each enabled plugin's function, argument names and settings — built from the shared
implementation list and valid while the tenant's activation entry is the very object the plan
was built from (a change evicts the entry, so the next read loads a new one) and the host's
generation is unchanged. A warm call is then one cache read, one dict lookup, and per plugin a
context (:func:`new_context`, which fills the slots directly) and the call itself.

Modes (see each hook's *Mode* in ``nentang.sdk.hookspecs``):

- :meth:`Dispatcher.call_all` — strict, every enabled plugin, results in order;
- :meth:`Dispatcher.call_first` — strict, the first non-``None`` result;
- :meth:`Dispatcher.call_one` — strict, one named plugin (enable/disable of that plugin);
- :meth:`Dispatcher.call_robust` — each plugin in a transaction of its own; a failure is
  recorded against the plugin's error budget for the tenant and does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from threading import get_ident
from time import monotonic
from typing import Any, final

import structlog
from pluggy import HookImpl
from sqlalchemy import select

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.data.plugin_guard import failed_call
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.plugins.context import KernelTenantContext, services_for
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginQuarantine
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.plugins.running import PluginCall, enter, leave
from nentang.kernel.plugins.secrets import SecretBox
from nentang.kernel.plugins.watchdog import Stopped, Watchdog
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


def activation_cache(db: Database, secrets: SecretBox, max_tenants: int = 50_000) -> LoadingCache[int, TenantPlugins]:
    def load(tenant_id: int) -> TenantPlugins:
        with db.tenant(tenant_id) as session:
            rows = session.execute(
                select(PluginActivation.plugin, PluginActivation.settings).where(PluginActivation.enabled.is_(True))
            ).all()
            quarantined = set(
                session.scalars(select(PluginQuarantine.plugin).where(PluginQuarantine.tenant_id == tenant_id))
            )
        stored = {plugin: text for plugin, text in rows if plugin not in quarantined}
        usable = {plugin: secrets.open_or_unreadable(plugin_settings.loads(text)) for plugin, text in stored.items()}
        return TenantPlugins(enabled=frozenset(usable), settings=usable)

    return LoadingCache(load, max_tenants)


#: One plugin's part of a call: its name, hook function, what picks the function's arguments out of
#: the call's keyword arguments (:func:`arguments_of`), its settings,
#: and the marker that says its code runs (built once with the plan, not per call).
_Step = tuple[str, Callable[..., Any], Callable[[Mapping[str, Any]], tuple[Any, ...]], Mapping[str, Any], PluginCall]


@final
class _Plan:
    """The steps of one hook for one tenant, and what they were built from."""

    __slots__ = ("generation", "source", "steps")

    def __init__(self, source: TenantPlugins, generation: int, steps: tuple[_Step, ...]) -> None:
        #: The activation entry the plan was built from (compared by identity: a strong reference,
        #: so its id cannot be reused while the plan exists).
        self.source = source
        self.generation = generation
        self.steps = steps


#: Bounds of the per-worker caches; when one is full it is emptied (and refilled on demand).
MAX_IMPL_LISTS = 10_000
MAX_PLANS = 100_000


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
        watchdog: Watchdog | None = None,
    ) -> None:
        self._db = db
        self._host = host
        #: The handle contexts carry to the kernel services (``context.py``): no reference to them.
        self._services = services_for(authz, audit)
        self.activations = activations
        self._budget = budget
        #: Every hook implementation runs under the watchdog: marked as the plugin's code, with its deadline.
        self.watchdog = watchdog or Watchdog(PluginCallLimits())
        self._impls: dict[tuple[str, frozenset[str], int], tuple[HookImpl, ...]] = {}
        self._plans: dict[tuple[str, int], _Plan] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger("nentang.plugins")
        host.on_change(self._forget)

    def _forget(self) -> None:
        with self._lock:
            self._impls.clear()
            self._plans.clear()

    # -- what is enabled ------------------------------------------------------------------

    def enabled(self, tenant_id: int) -> frozenset[str]:
        """Plugins enabled for the tenant and registered on this worker."""
        return self.activations.get(tenant_id).enabled.intersection(self._host.plugins)

    def implementations(self, hook: str, tenant_id: int) -> tuple[HookImpl, ...]:
        return self._implementations(hook, self.enabled(tenant_id), self._host.generation)

    def _implementations(self, hook: str, enabled: frozenset[str], generation: int) -> tuple[HookImpl, ...]:
        key = (hook, enabled, generation)
        impls = self._impls.get(key)
        if impls is None:
            caller = getattr(self._host.pm.hook, hook, None)
            if caller is None:
                raise NotFound(f"no hook named {hook!r}", code="plugin.unknown_hook")
            order = self._order()
            found = [impl for impl in caller.get_hookimpls() if impl.plugin_name in enabled]
            impls = tuple(sorted(found, key=lambda impl: order.get(impl.plugin_name, (1 << 30, impl.plugin_name))))
            with self._lock:
                if len(self._impls) >= MAX_IMPL_LISTS:
                    self._impls.clear()
                self._impls[key] = impls
        return impls

    def _steps(self, hook: str, tenant_id: int) -> tuple[_Step, ...]:
        """What to call for ``hook`` at the tenant, in order (the hot path: see the module docstring)."""
        source = self.activations.get(tenant_id)
        plan = self._plans.get((hook, tenant_id))
        if plan is not None and plan.source is source and plan.generation == self._host.generation:
            return plan.steps
        generation = self._host.generation  # read first: a change while building makes the plan stale at once
        impls = self._implementations(hook, source.enabled.intersection(self._host.plugins), generation)
        tables = self._host.tables
        steps = tuple(
            (
                impl.plugin_name,
                impl.function,
                arguments_of(tuple(impl.argnames)),
                source.settings.get(impl.plugin_name, {}),
                PluginCall(impl.plugin_name, tenant_id, hook, tables.get(impl.plugin_name, frozenset())),
            )
            for impl in impls
        )
        with self._lock:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[(hook, tenant_id)] = _Plan(source, generation, steps)
        return steps

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
        # Watchdog.call, inline: this is the hot path (bench/hook_dispatch.py), and one registration
        # slot serves the whole sequence of plugins instead of one per plugin. The context is
        # new_context() inline too: a function call per plugin was a fifth of a warm call's cost.
        results = []
        handle = self._services.handle
        watchdog = self.watchdog
        running, thread = watchdog.calls(), get_ident()
        outer = running.get(thread)
        token = None
        try:
            for plugin, function, args_of, settings, call in self._steps(hook, tenant.id):
                kwargs["ctx"] = ctx = _allocate(KernelTenantContext)
                ctx.tenant, ctx.plugin, ctx.actor, ctx.settings, ctx.session, ctx._kernel = (
                    tenant, plugin, actor, settings, session, handle
                )  # fmt: skip
                if session is not None:
                    session.flush()  # the kernel's pending changes are written as the kernel's
                token = enter(call)
                running[thread] = (call, monotonic())
                try:
                    result = function(*args_of(kwargs))
                    if session is not None:
                        session.flush()  # the plugin's, checked as the plugin's (runtime guard)
                except BaseException:
                    if session is not None:
                        failed_call(session, call)
                    raise
                finally:
                    leave(token)
                if result is not None:
                    results.append((plugin, result))
        except Stopped:
            raise watchdog.timed_out(thread, token) from None
        finally:
            watchdog.restore(thread, outer)
        return results

    def call_first(self, hook: str, tenant: TenantRef, *, actor: str, session: Any, **kwargs: Any) -> Any:
        for _plugin, function, args_of, settings, call in self._steps(hook, tenant.id):
            result = self._invoke(call, function, args_of, settings, tenant, actor, session, kwargs)
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
                call = PluginCall(plugin, tenant.id, hook, self._host.tables.get(plugin, frozenset()))
                return self._invoke(
                    call,
                    impl.function,
                    arguments_of(tuple(impl.argnames)),
                    plugin_settings,
                    tenant,
                    actor,
                    session,
                    kwargs,
                )
        return None

    def run_as_plugin(
        self,
        plugin: str,
        tenant: TenantRef,
        entry: str,
        function: Callable[[KernelTenantContext], Any],
        *,
        actor: str,
        session: Any,
        plugin_settings: Mapping[str, Any],
    ) -> Any:
        """``function(ctx)`` as ``plugin``'s call ``entry`` (not a hook: a console page's handler),
        with the plugin's context, tables and deadline, like a hook implementation."""
        call = PluginCall(plugin, tenant.id, entry, self._host.tables.get(plugin, frozenset()))
        ctx = new_context(tenant, plugin, actor, plugin_settings, session, self._services.handle)
        if session is not None:
            session.flush()
        return self.watchdog.call(call, _checked, session, call, function, ctx)

    def call_robust(self, hook: str, tenant: TenantRef, *, actor: str, **kwargs: Any) -> list[Outcome]:
        outcomes = []
        for plugin, function, args_of, settings, call in self._steps(hook, tenant.id):
            try:
                with self._db.tenant(tenant.id) as session, session.begin():
                    result = self._invoke(call, function, args_of, settings, tenant, actor, session, kwargs)
            except Exception as exc:
                self._log.warning("plugin.hook_failed", plugin=plugin, hook=hook, tenant=tenant.code, error=repr(exc))
                if self._budget is not None:
                    self._budget.failed(plugin, tenant, exc)
                outcomes.append(Outcome(plugin, error=exc))
            else:
                if self._budget is not None:
                    self._budget.succeeded(plugin, tenant)
                outcomes.append(Outcome(plugin, result=result))
        return outcomes

    def _invoke(
        self,
        call: PluginCall,
        function: Callable[..., Any],
        args_of: Callable[[Mapping[str, Any]], tuple[Any, ...]],
        settings: Mapping[str, Any],
        tenant: TenantRef,
        actor: str,
        session: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        """Call one plugin's function with its own context and the arguments it asks for.

        ``kwargs`` is the dispatch method's own ``**kwargs`` dict: the context is put into it (the
        kernel's context always wins) rather than copying it for every plugin. The call runs under
        the watchdog (:meth:`Watchdog.call`): marked as the plugin's code while it runs, stopped with
        :class:`~nentang.kernel.plugins.watchdog.PluginTimeout` past its deadline. :meth:`call_all`
        does the same inline.
        """
        kwargs["ctx"] = new_context(tenant, call.plugin, actor, settings, session, self._services.handle)
        if session is not None:
            session.flush()  # the kernel's pending changes are written as the kernel's
        return self.watchdog.call(call, _checked, session, call, function, *args_of(kwargs))


_allocate = object.__new__


def arguments_of(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What takes a hook function's arguments, in order, out of the call's keyword arguments.

    Built once per plan step: ``itemgetter`` does the lookups in C, about half the cost of
    ``map(kwargs.__getitem__, names)`` per call (``bench/hook_dispatch.py``)."""
    if len(names) >= 2:
        return itemgetter(*names)
    if names:
        (only,) = names
        return lambda kwargs: (kwargs[only],)
    return lambda _kwargs: ()


def new_context(
    tenant: TenantRef,
    plugin: str,
    actor: str,
    settings: Mapping[str, Any],
    session: Any,
    services: int,
) -> KernelTenantContext:
    """``KernelTenantContext(tenant=..., plugin=..., ...)``, built without the keyword-argument call.

    Calling a class with seven keyword arguments was most of a warm dispatch's own cost (one
    context per plugin per call; ``bench/hook_dispatch.py``); filling the slots directly is about
    three times cheaper. ``tests/test_bench_plugins.py`` checks that this sets every slot the
    constructor sets, to the same values — keep the two in step.
    """
    ctx = _allocate(KernelTenantContext)
    ctx.tenant = tenant
    ctx.plugin = plugin
    ctx.actor = actor
    ctx.settings = settings
    ctx.session = session
    ctx._kernel = services
    return ctx


def _checked(session: Any, call: PluginCall, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, then the plugin's pending changes flushed while still marked as its code
    (so the runtime guard checks them as the plugin's); after a failure, the session remembers that
    what is pending is the plugin's."""
    try:
        result = function(*args)
        if session is not None:
            session.flush()
        return result
    except BaseException:
        if session is not None:
            failed_call(session, call)
        raise
