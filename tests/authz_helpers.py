"""Helpers for authorisation tests: users made directly as rows, grants through the real API."""

from __future__ import annotations

from sqlalchemy import func, select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.authz.models import Grant
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
