"""The kernel's implementation of :class:`nentang.sdk.context.TenantContext`."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Mapping
from typing import Any, Final, final

from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.sequences import next_value
from nentang.kernel.events.outbox import emit
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.running import on_behalf_of_plugin
from nentang.kernel.tenancy.models import path_ids
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.context import TenantRef
from nentang.sdk.errors import PermissionDenied


def tenant_ref(tenant: TenantInfo) -> TenantRef:
    return TenantRef(
        id=tenant.id, code=tenant.code, name=tenant.name, kind=tenant.kind.value, path=tuple(path_ids(tenant.path))
    )


def parse_actor(actor: str) -> Actor:
    kind, _, ident = actor.partition(":")
    return Actor(kind, ident)  # type: ignore[arg-type]  # the kinds are the kernel's own strings


@final
class KernelServices:
    """The kernel services behind plugins' contexts: one per authoriser (so, one per kernel).

    A context carries only :attr:`handle`, an int that leads nowhere; the services are found
    through this module's maps, which plugin code does not reach through any object it is given.
    """

    __slots__ = ("__weakref__", "_authz", "audit", "handle")

    def __init__(self, authz: Authorizer, audit: AuditLog) -> None:
        self._authz = weakref.ref(authz)  # weak: the services live as long as their authoriser
        self.audit = audit  # stateless (no slots): holds nothing
        self.handle = next(_HANDLES)

    @property
    def authz(self) -> Authorizer:
        authz = self._authz()
        if authz is None:
            raise RuntimeError("the kernel behind this plugin context is gone")
        return authz


#: Authoriser -> its services (alive with it); handle -> services (alive with them).
_BY_AUTHZ: Final[weakref.WeakKeyDictionary[Authorizer, KernelServices]] = weakref.WeakKeyDictionary()
_SERVICES: Final[weakref.WeakValueDictionary[int, KernelServices]] = weakref.WeakValueDictionary()
_HANDLES: Final = itertools.count(1)


def services_for(authz: Authorizer, audit: AuditLog) -> KernelServices:
    """The services of ``authz`` (made on first use)."""
    found = _BY_AUTHZ.get(authz)
    if found is None or found.audit is not audit:
        found = _BY_AUTHZ[authz] = KernelServices(authz, audit)
        _SERVICES[found.handle] = found
    return found


def _services(handle: int) -> KernelServices:
    return _SERVICES[handle]


@final
class KernelTenantContext:
    """One plugin's view of one tenant for one call. Cheap to build: one per plugin per call.

    It holds what the plugin may see (its tenant, name, caller, settings and its tenant-bound
    session) and a handle to the kernel services it calls for the plugin; the services themselves
    stay in this module, so no attribute of a context leads to the authoriser or the audit log.
    """

    __slots__ = ("_kernel", "actor", "plugin", "session", "settings", "tenant")

    def __init__(
        self,
        *,
        tenant: TenantRef,
        plugin: str,
        actor: str,
        settings: Mapping[str, Any],
        session: Session,
        authz: Authorizer,
        audit: AuditLog,
    ) -> None:
        self.tenant = tenant
        self.plugin = plugin
        self.actor = actor
        self.settings: Mapping[str, Any] = settings
        #: The tenant-bound session of the call (the caller's transaction, or one of its own).
        self.session: Session = session
        self._kernel = services_for(authz, audit).handle

    def has_permission(self, permission: str) -> bool:
        with on_behalf_of_plugin():  # the grant lookup reads kernel tables
            return _services(self._kernel).authz.check(self.actor, self.tenant.id, permission)

    def require_permission(self, permission: str) -> None:
        if not self.has_permission(permission):
            raise PermissionDenied(
                f"{self.actor} may not {permission!r} at {self.tenant.code!r}", code="permission.denied"
            )

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None) -> None:
        self.session.flush()  # the plugin's own changes first, checked as the plugin's
        with on_behalf_of_plugin():
            emit(self.session, tenant_id=self.tenant.id, event_type=event_type, payload=payload, actor=self.actor)

    def audit(self, action: str, target: str, detail: Mapping[str, Any] | None = None) -> None:
        self.session.flush()
        with on_behalf_of_plugin():
            self._append_audit(action, target, detail)

    def next_number(self, name: str) -> int:
        self.session.flush()
        with on_behalf_of_plugin():
            return next_value(self.session, tenant_id=self.tenant.id, owner=self.plugin, name=name)

    def _append_audit(self, action: str, target: str, detail: Mapping[str, Any] | None) -> None:
        _services(self._kernel).audit.append(
            self.session,
            tenant_id=self.tenant.id,
            actor=parse_actor(self.actor),
            action=f"{self.plugin}.{action}" if not action.startswith(f"{self.plugin}.") else action,
            target=target,
            detail=dict(detail or {}),
        )
