"""The kernel's implementation of :class:`nentang.sdk.context.TenantContext`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
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
class KernelTenantContext:
    """One plugin's view of one tenant for one call. Cheap to build: one per plugin per call."""

    __slots__ = ("_audit", "_authz", "_session", "_settings", "actor", "plugin", "tenant")

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
        self._settings = settings
        self._session = session
        self._authz = authz
        self._audit = audit

    @property
    def settings(self) -> Mapping[str, Any]:
        return self._settings

    @property
    def session(self) -> Session:
        return self._session

    def has_permission(self, permission: str) -> bool:
        with on_behalf_of_plugin():  # the grant lookup reads kernel tables
            return self._authz.check(self.actor, self.tenant.id, permission)

    def require_permission(self, permission: str) -> None:
        if not self.has_permission(permission):
            raise PermissionDenied(
                f"{self.actor} may not {permission!r} at {self.tenant.code!r}", code="permission.denied"
            )

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None) -> None:
        with on_behalf_of_plugin():
            emit(self._session, tenant_id=self.tenant.id, event_type=event_type, payload=payload, actor=self.actor)

    def audit(self, action: str, target: str, detail: Mapping[str, Any] | None = None) -> None:
        with on_behalf_of_plugin():
            self._append_audit(action, target, detail)

    def _append_audit(self, action: str, target: str, detail: Mapping[str, Any] | None) -> None:
        self._audit.append(
            self._session,
            tenant_id=self.tenant.id,
            actor=parse_actor(self.actor),
            action=f"{self.plugin}.{action}" if not action.startswith(f"{self.plugin}.") else action,
            target=target,
            detail=dict(detail or {}),
        )
