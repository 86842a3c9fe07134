"""Identity tables: users, web sessions, API tokens, login throttling.

These are platform tables (a user may hold roles in many tenants; a token arrives before its
tenant is known), each row naming its tenant where it has one.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from nentang.kernel.tenancy.models import utcnow

TIMESTAMP = sa.DateTime(timezone=True)


class User(SQLModel, table=True):
    __tablename__ = "kernel_user"
    __table_args__ = (sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_kernel_user_oidc"),)

    id: int | None = Field(default=None, primary_key=True)
    #: Lower-case login name, unique in the platform.
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=255)
    #: The tenant the user belongs to (an officer of commune X); roles may add other tenants.
    home_tenant_id: int = Field(foreign_key="kernel_tenant.id", index=True)
    #: argon2 hash; ``None`` for users who sign in only through the identity provider.
    password_hash: str | None = Field(default=None, max_length=255)
    oidc_issuer: str | None = Field(default=None, max_length=255)
    oidc_subject: str | None = Field(default=None, max_length=255)
    #: "active" or "disabled".
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    last_login_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class WebSession(SQLModel, table=True):
    """A browser session. The cookie holds a random secret; only its SHA-256 is stored."""

    __tablename__ = "kernel_web_session"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 hex of the cookie secret")
    user_id: int = Field(foreign_key="kernel_user.id", index=True)
    #: Token that form posts must echo (CSRF protection), bound to this session.
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    expires_at: datetime = Field(sa_type=TIMESTAMP)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    revoked_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class ApiToken(SQLModel, table=True):
    """An integrator's token for one tenant. Shown once at creation; stored as SHA-256 of the
    secret (the secret is 256 random bits, so a slow hash adds nothing)."""

    __tablename__ = "kernel_api_token"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="uq_kernel_api_token_name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="kernel_tenant.id", index=True)
    name: str = Field(max_length=128)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    #: The first characters of the token, so people can tell their tokens apart.
    prefix: str = Field(max_length=16)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    expires_at: datetime = Field(sa_type=TIMESTAMP)
    revoked_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    revoked_by: str | None = Field(default=None, max_length=128)
    last_used_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per key ("user:<name>"), kept also for names that do not exist, so
    throttling does not reveal which accounts exist."""

    __tablename__ = "kernel_login_throttle"

    key: str = Field(primary_key=True, max_length=160)
    failures: int = 0
    window_started_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    locked_until: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class OIDCPendingLogin(SQLModel, table=True):
    """An OIDC sign-in between ``/auth/oidc/start`` and its callback: single-use, expiring.

    Keyed by the SHA-256 of the ``state`` (the callback presents the state; the table alone gives
    nothing a forger could present) and bound to the browser that started it by the SHA-256 of a
    random cookie. The nonce and PKCE verifier must be kept in clear: the callback needs them.
    """

    __tablename__ = "kernel_oidc_login"

    state_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 hex of the OIDC state")
    #: SHA-256 hex of the browser-binding cookie's secret.
    browser_hash: str = Field(max_length=64)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    #: A same-site path to land on after sign-in.
    return_to: str = Field(max_length=2048)
    #: Older than the issuer's ``login_timeout_seconds``: refused, and swept by the next start.
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP, index=True)
