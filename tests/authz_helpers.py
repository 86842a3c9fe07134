"""Helpers for authorisation tests: users made directly as rows, grants through the real API."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.authz.models import Grant, Role, RolePermission
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import User
from nentang.kernel.runtime import Kernel

OPERATOR = Actor.system("tests-operator")


def make_user(kernel: Kernel, username: str, home_tenant_id: int) -> Actor:
    with kernel.db.platform() as session, session.begin():
        user = User(username=username, display_name=username.title(), home_tenant_id=home_tenant_id)
        session.add(user)
        session.flush()
        return Actor("user", str(user.id))


def bootstrap_admin(kernel: Kernel, actor: Actor, tenant_id: int, role: str = "admin") -> None:
    with kernel.db.platform() as session, session.begin():
        kernel.authz.grant_as_operator(session, actor=OPERATOR, principal=str(actor), role=role, tenant_id=tenant_id)


def grant_count(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(Grant)) or 0


def audit_actions(kernel: Kernel, tenant_id: int) -> list[str]:
    with kernel.db.tenant(tenant_id) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def authz_state(kernel: Kernel) -> tuple[frozenset[tuple[str, int, int]], frozenset[tuple[int | None, str, str]]]:
    """Every grant (principal, role id, tenant id) and every role's (tenant id, name, permission):
    equal before and after an act that was refused."""
    with kernel.db.platform() as session:
        grants = session.execute(select(Grant.principal, Grant.role_id, Grant.tenant_id)).all()
        roles = session.execute(
            select(Role.tenant_id, Role.name, RolePermission.permission).join(
                RolePermission, RolePermission.role_id == Role.id, isouter=True
            )
        ).all()
    return frozenset(tuple(g) for g in grants), frozenset(tuple(r) for r in roles)


def refusals(kernel: Kernel, tenant_id: int) -> list[tuple[str, str, str]]:
    """(actor, attempted act, error code) of every refusal audited at a tenant, in order."""
    with kernel.db.tenant(tenant_id) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "authz.refused").order_by(AuditEntry.seq)
        ).all()
        details = [(r.actor, json.loads(r.detail)) for r in rows]
    return [(actor, detail["attempted"], detail["code"]) for actor, detail in details]
