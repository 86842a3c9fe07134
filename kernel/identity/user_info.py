"""The read-only view of a user that leaves the identity services (never the password hash).

A module of its own because sessions, login, tokens and the HTTP layer all hand it around, and
none of them should depend on the user-administration service to do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, final

from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import User
from nentang.kernel.identity.timeutil import aware

ACTIVE: Final = "active"
DISABLED: Final = "disabled"


@final
@dataclass(frozen=True, slots=True)
class UserInfo:
    """A read-only snapshot of a user, without the password hash; safe to hand out and to log."""

    id: int
    username: str
    display_name: str
    email: str | None
    home_tenant_id: int
    status: str
    has_password: bool
    oidc_issuer: str | None
    oidc_subject: str | None
    created_at: datetime
    last_login_at: datetime | None

    @property
    def principal(self) -> str:
        """The authorisation principal (and audit actor) of this user, e.g. ``user:12``."""
        return f"user:{self.id}"

    @property
    def actor(self) -> Actor:
        return Actor("user", str(self.id))

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @classmethod
    def of(cls, row: User) -> UserInfo:
        return cls(
            id=row.id or 0,
            username=row.username,
            display_name=row.display_name,
            email=row.email,
            home_tenant_id=row.home_tenant_id,
            status=row.status,
            has_password=row.password_hash is not None,
            oidc_issuer=row.oidc_issuer,
            oidc_subject=row.oidc_subject,
            created_at=aware(row.created_at),
            last_login_at=aware(row.last_login_at) if row.last_login_at else None,
        )
