"""``nentang_hooks``: every hook implementation that ran, per tenant, and the events emitted.

The recorder wraps each hook implementation registered on one kernel's plugin manager (never a
global one), so it sees exactly what the kernel's dispatcher called — which plugin, for which
tenant, with which arguments, and whether it raised. It is installed when the kit's kernel starts,
before any marker enables a plugin, and removed when the kernel closes.

Events are read from the kernel's outbox: an event is listed once the transaction that emitted it
committed (an emit in a transaction that rolled back never happened).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, final

import pluggy

from nentang.sdk.context import TenantRef
from nentang.sdk.events import Event
from nentang.sdk.testing._values import TenantLike

_PREFIX: Final = "nentang_"
_MARK: Final = "__nentang_recorded__"


@final
@dataclass(frozen=True, slots=True)
class HookCall:
    """One hook implementation that ran."""

    #: The hook's name, e.g. ``"nentang_event_received"``.
    hook: str
    #: The plugin whose implementation ran.
    plugin: str
    #: The tenant of the call (``ctx.tenant``); ``None`` for hooks without a tenant.
    tenant: TenantRef | None
    #: The arguments the kernel passed, except ``ctx``.
    arguments: Mapping[str, Any] = field(default_factory=dict)
    #: ``ctx.actor`` of the call (``"user:3"``, ``"system:events"``), when there is a context.
    actor: str | None = None
    #: ``"<Type>: <message>"`` of the exception the implementation raised, or ``None``.
    error: str | None = None


def _matches(tenant: TenantRef | None, wanted: TenantLike | int) -> bool:
    if tenant is None:
        return False
    if isinstance(wanted, TenantRef):
        return tenant.id == wanted.id
    if isinstance(wanted, int):
        return tenant.id == wanted
    return tenant.code == wanted


@final
class HookRecorder:
    """What the plugins of one kit kernel did: hook calls per tenant, and events emitted.

    ::

        nentang_hooks.calls("nentang_event_received", tenant=nentang_tree.commune)
        nentang_hooks.tenants("nentang_plugin_enable")          # ["00001"]
        nentang_hooks.events(nentang_tree.commune, type="forms.*")
    """

    def __init__(
        self,
        read_events: Callable[[int], list[Event]] | None = None,
        tenant_id: Callable[[str], int] | None = None,
    ) -> None:
        #: Reads the outbox's events with an id above the given one (all tenants), in id order.
        self._read_events = read_events
        #: Turns a tenant code into its id (for ``events("00001")``).
        self._tenant_id = tenant_id
        self._calls: list[HookCall] = []
        self._installed: list[tuple[Any, Callable[..., Any], tuple[str, ...]]] = []
        self._events_after = 0
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def calls(
        self, hook: str | None = None, *, plugin: str | None = None, tenant: TenantLike | int | None = None
    ) -> list[HookCall]:
        """The recorded calls in the order they started, filtered by hook, plugin and tenant."""
        with self._lock:
            recorded = list(self._calls)
        return [
            call
            for call in recorded
            if (hook is None or call.hook == hook)
            and (plugin is None or call.plugin == plugin)
            and (tenant is None or _matches(call.tenant, tenant))
        ]

    def called(self, hook: str, *, plugin: str | None = None, tenant: TenantLike | int | None = None) -> bool:
        """Whether any implementation of ``hook`` ran (for ``plugin``, at ``tenant``)."""
        return bool(self.calls(hook, plugin=plugin, tenant=tenant))

    def tenants(self, hook: str, *, plugin: str | None = None) -> list[str]:
        """Codes of the tenants ``hook`` ran for, in call order (one entry per call)."""
        return [c.tenant.code for c in self.calls(hook, plugin=plugin) if c.tenant is not None]

    def events(self, tenant: TenantLike | int | None = None, *, type: str | None = None) -> list[Event]:
        """Events committed to the outbox since the kernel started (or since :meth:`clear`), in id
        order. ``type`` is an exact type (``"forms.submitted"``) or a prefix ending in ``*``
        (``"forms.*"``)."""
        if self._read_events is None:
            return []
        found = self._read_events(self._events_after)
        if tenant is not None:
            wanted = self._id_of(tenant)
            found = [e for e in found if e.tenant_id == wanted]
        if type is not None:
            if type.endswith("*"):
                found = [e for e in found if e.type.startswith(type[:-1])]
            else:
                found = [e for e in found if e.type == type]
        return found

    def clear(self) -> None:
        """Forget the calls recorded so far and the events emitted so far."""
        with self._lock:
            self._calls.clear()
        if self._read_events is not None:
            emitted = self._read_events(self._events_after)
            if emitted:
                self._events_after = emitted[-1].id

    def _id_of(self, tenant: TenantLike | int) -> int:
        if isinstance(tenant, TenantRef):
            return tenant.id
        if isinstance(tenant, int):
            return tenant
        if self._tenant_id is None:
            raise LookupError(f"this recorder cannot look up tenant {tenant!r}; pass its TenantRef")
        return self._tenant_id(tenant)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    # -- installing on one kernel's plugin manager (the kit's business) --------------------

    def _install(self, pm: pluggy.PluginManager) -> None:
        """Wrap every ``nentang_*`` implementation registered on ``pm`` not wrapped yet.

        Called when the kernel starts and again whenever its plugin host registers more plugins.
        An implementation of a tenant-scoped hook that does not take ``ctx`` (opt-in arguments)
        is handed ``ctx`` by the kernel anyway through the wrapper, which keeps it for the record
        and calls the implementation with the arguments it asked for.
        """
        for name, caller in sorted(vars(pm.hook).items()):
            if not name.startswith(_PREFIX) or not isinstance(caller, pluggy.HookCaller):
                continue
            spec_args = tuple(caller.spec.argnames) if caller.spec is not None else ()
            for impl in caller.get_hookimpls():
                if getattr(impl.function, _MARK, False):
                    continue
                original, wanted = impl.function, tuple(impl.argnames)
                given = ("ctx", *wanted) if "ctx" in spec_args and "ctx" not in wanted else wanted
                impl.function = self._wrap(name, impl.plugin_name, original, wanted, given)
                impl.argnames = given
                self._installed.append((impl, original, wanted))

    def _uninstall(self) -> None:
        """Give every wrapped implementation back its own function and argument names."""
        for impl, original, wanted in reversed(self._installed):
            impl.function, impl.argnames = original, wanted
        self._installed.clear()

    def _wrap(
        self,
        hook: str,
        plugin: str,
        function: Callable[..., Any],
        wanted: tuple[str, ...],
        given: tuple[str, ...],
    ) -> Callable[..., Any]:
        recorder = self

        def recorded(*args: Any, **kwargs: Any) -> Any:
            values = dict(zip(given, args, strict=False))
            values.update(kwargs)
            ctx = values.get("ctx")
            tenant = getattr(ctx, "tenant", None)
            call = HookCall(
                hook=hook,
                plugin=plugin,
                tenant=tenant if isinstance(tenant, TenantRef) else None,
                arguments={k: v for k, v in values.items() if k != "ctx"},
                actor=getattr(ctx, "actor", None),
            )
            index = recorder._append(call)
            try:
                return function(*(values[name] for name in wanted))
            except BaseException as exc:
                recorder._replace(index, dataclasses.replace(call, error=f"{type(exc).__name__}: {exc}"))
                raise

        setattr(recorded, _MARK, True)
        recorded.__name__ = getattr(function, "__name__", hook)
        recorded.__qualname__ = getattr(function, "__qualname__", hook)
        recorded.__wrapped__ = function  # type: ignore[attr-defined]
        return recorded

    def _append(self, call: HookCall) -> int:
        with self._lock:
            self._calls.append(call)
            return len(self._calls) - 1

    def _replace(self, index: int, call: HookCall) -> None:
        with self._lock:
            if index < len(self._calls):
                self._calls[index] = call


__all__ = ["HookCall", "HookRecorder"]
