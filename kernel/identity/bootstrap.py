"""The first administrator: an operator act that makes a fresh platform administrable.

Why it exists: delegated administration means every permission traces back to a grant made by
someone who held it — except the first. That first grant is an operator's act (the demo at start-up,
or ``nentang user create`` + ``nentang user grant``), made through the authoriser's operator path and
audited like any other. The password is generated here, returned once for the console, and only its
argon2 hash is stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from sqlalchemy import select

from nentang.kernel.authz.models import Grant, Role
from nentang.kernel.authz.permissions import ADMIN_ROLE
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.users import require_operator, tenant_by_code
from nentang.sdk.errors import NotFound

if TYPE_CHECKING:
    from nentang.kernel.runtime import Kernel


@final
@dataclass(frozen=True, slots=True)
class AdminBootstrap:
    username: str
    #: Whether the user was created by this call (``False``: it existed already).
    created: bool
    #: The generated password, only when ``created``; shown once, stored nowhere.
    password: str | None
    #: Whether the admin grant was made by this call (it is also repaired if it went missing).
    granted: bool

    def __repr__(self) -> str:
        return f"AdminBootstrap(username={self.username!r}, created={self.created}, granted={self.granted})"


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits): typed once, then changed or kept in a vault."""
    return secrets.token_urlsafe(18)


def ensure_administrator(
    kernel: Kernel, *, actor: Actor, username: str, tenant_code: str, display_name: str = "Administrator"
) -> AdminBootstrap:
    """Make sure ``username`` exists and holds the ``admin`` role at ``tenant_code`` (idempotent)."""
    require_operator(actor)
    password: str | None = None
    try:
        user = kernel.users.get(username)
        created = False
    except NotFound:
        password = generate_password()
        user = kernel.users.create_user_as_operator(
            actor, username=username, display_name=display_name, home_tenant_code=tenant_code, password=password
        )
        created = True
    with kernel.db.platform() as session, session.begin():
        tenant_id = tenant_by_code(session, tenant_code).id or 0
        held = session.scalar(
            select(Grant.id)
            .join(Role, Role.id == Grant.role_id)
            .where(
                Grant.principal == user.principal,
                Grant.tenant_id == tenant_id,
                Role.name == ADMIN_ROLE,
                Role.tenant_id.is_(None),
            )
        )
        granted = held is None
        if granted:
            kernel.authz.grant_as_operator(
                session, actor=actor, principal=user.principal, role=ADMIN_ROLE, tenant_id=tenant_id
            )
    return AdminBootstrap(username=username, created=created, password=password, granted=granted)
