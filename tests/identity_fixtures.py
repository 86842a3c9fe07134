"""Helpers for the identity tests: cheap password hashing passed in, users and administrators made
through the real services, and readers for the audit log and the identity tables.

Each identity test module overrides the ``settings`` fixture with :func:`identity_settings`, so its
kernel (and the ``tree`` and ``client`` built on it) hashes passwords with :data:`FAST_HASHING`:
the cost is a value handed to that kernel, never a global switch.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.authz.models import Grant
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import ApiToken, WebSession
from nentang.kernel.identity.passwords import HashParameters
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import make_settings

#: The cheapest argon2id parameters the library accepts: tests stay fast, the code path is the real one.
FAST_HASHING = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
OPERATOR = Actor.system("tests-operator")
PASSWORD = "correct horse battery staple"


def identity_settings(database_url: str, **identity: Any) -> Settings:
    base = make_settings(database_url)
    return base.with_overrides(identity=replace(IdentitySettings(password_hashing=FAST_HASHING), **identity))


def make_user(
    kernel: Kernel, username: str, tenant_code: str, *, password: str | None = PASSWORD, display_name: str = ""
) -> UserInfo:
    return kernel.users.create_user_as_operator(
        OPERATOR,
        username=username,
        display_name=display_name or username.title(),
        home_tenant_code=tenant_code,
        password=password,
    )


def grant(kernel: Kernel, user: UserInfo | Actor | str, role: str, tenant_id: int) -> None:
    principal = user.principal if isinstance(user, UserInfo) else str(user)
    with kernel.db.platform() as session, session.begin():
        kernel.authz.grant_as_operator(session, actor=OPERATOR, principal=principal, role=role, tenant_id=tenant_id)


def make_role(kernel: Kernel, actor: Actor, tenant_id: int, name: str, permissions: list[str]) -> None:
    """A custom role defined at a tenant by ``actor`` (through the delegation check)."""
    with kernel.db.platform() as session, session.begin():
        kernel.authz.create_role(session, actor=actor, tenant_id=tenant_id, name=name, permissions=permissions)


def make_admin(kernel: Kernel, username: str, tenant_code: str, tenant_id: int, role: str = "admin") -> UserInfo:
    user = make_user(kernel, username, tenant_code)
    grant(kernel, user, role, tenant_id)
    return user


def audit_entries(kernel: Kernel, tenant_id: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(action, actor, target, detail) of every entry of a tenant's chain, in order."""
    with kernel.db.tenant(tenant_id) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(r.action, r.actor, r.target, json.loads(r.detail)) for r in rows]


def actions(kernel: Kernel, tenant_id: int) -> list[str]:
    return [action for action, *_ in audit_entries(kernel, tenant_id)]


#: Audit actions that record a refused attempt: the one thing a refused request does write.
REFUSAL_ACTIONS = frozenset(
    {
        "graphql.refused",
        "graphql.tenant_refused",
        "authz.refused",
        "user.refused",
        "token.refused",
        "console.refused",
        "console.tenant_refused",
    }
)


def changes(kernel: Kernel, tenant_id: int) -> list[str]:
    """The tenant's audit actions but the records of refusals: what a refused request must not add to."""
    return [action for action in actions(kernel, tenant_id) if action not in REFUSAL_ACTIONS]


def refusal_actions(kernel: Kernel, tenant_id: int) -> list[str]:
    return [action for action in actions(kernel, tenant_id) if action in REFUSAL_ACTIONS]


def token_rows(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def grant_rows(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(Grant)) or 0


def web_sessions(kernel: Kernel, user_id: int) -> list[WebSession]:
    with kernel.db.platform() as session:
        return list(session.scalars(select(WebSession).where(WebSession.user_id == user_id)))
