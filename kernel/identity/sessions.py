"""Web sessions for the browser UI: a random secret in an HTTP-only cookie, its SHA-256 in the database.

Why this shape:

- The cookie carries 256 random bits; the table stores only their SHA-256, so a leaked database (or
  backup) holds nothing a browser could present. A slow hash is not needed for 256-bit secrets.
- A session ends at the first of: revocation (logout, the user disabled or given a new password),
  ``session_idle_timeout`` without a request, ``session_lifetime`` after sign-in. The checks happen on
  every :meth:`SessionService.resolve`; nothing needs a sweeper to be correct.
- ``last_seen_at`` is written at most once per ``touch_interval``, so a busy page costs reads, not a
  write per request.
- Each session has its own CSRF token, which every cookie-authenticated unsafe request must echo
  (the authentication middleware checks it).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nentang.kernel.data.database import Database
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import User, WebSession
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.identity.user_info import ACTIVE, UserInfo

#: ``secrets.token_urlsafe(32)``: 43 URL-safe base64 characters.
_COOKIE_VALUE: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")


@final
@dataclass(frozen=True, slots=True)
class NewSession:
    """What sign-in hands to the browser. ``cookie_value`` exists only here, never in the database."""

    cookie_value: str = ""
    session_id: str = ""
    csrf_token: str = ""
    expires_at: datetime | None = None

    def __repr__(self) -> str:  # the cookie value must not reach a log line
        return f"NewSession(session_id={self.session_id[:12]}..., expires_at={self.expires_at})"


@final
@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session that :meth:`SessionService.resolve` found valid, with its (active) user."""

    id: str
    user: UserInfo
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def session_id_of(cookie_value: str) -> str:
    """The stored id of a session: SHA-256 (hex) of the cookie's secret."""
    return hashlib.sha256(cookie_value.encode("ascii")).hexdigest()


def revoke_all_for_user(session: Session, user_id: int) -> int:
    """End every open web session of a user, inside the caller's transaction; returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@final
class SessionService:
    __slots__ = ("_db", "settings")

    def __init__(self, db: Database, settings: IdentitySettings) -> None:
        self._db = db
        self.settings = settings

    def create(self, user_id: int) -> NewSession:
        """Open a session for a user who has just proven who they are."""
        secret = secrets.token_urlsafe(32)
        started = now()
        row = WebSession(
            id=session_id_of(secret),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=started,
            last_seen_at=started,
            expires_at=started + self.settings.session_lifetime,
        )
        with self._db.platform() as session, session.begin():
            session.add(row)
        return NewSession(
            cookie_value=secret, session_id=row.id, csrf_token=row.csrf_token, expires_at=aware(row.expires_at)
        )

    def resolve(self, cookie_value: str | None) -> ActiveSession | None:
        """The live session behind a cookie, or ``None`` (absent, malformed, unknown, revoked,
        expired, idle too long, or its user disabled)."""
        if not cookie_value or not _COOKIE_VALUE.match(cookie_value):
            return None
        session_id = session_id_of(cookie_value)
        moment = now()
        with self._db.platform() as session, session.begin():
            found = session.execute(
                select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.id == session_id)
            ).first()
            if found is None:
                return None
            row, user = found[0], found[1]
            last_seen = aware(row.last_seen_at)
            if (
                row.revoked_at is not None
                or moment >= aware(row.expires_at)
                or moment - last_seen >= self.settings.session_idle_timeout
                or user.status != ACTIVE
            ):
                return None
            if moment - last_seen >= self.settings.touch_interval:
                session.execute(
                    update(WebSession)
                    .where(WebSession.id == session_id, WebSession.last_seen_at == row.last_seen_at)
                    .values(last_seen_at=moment)
                    .execution_options(synchronize_session=False)
                )
            return ActiveSession(
                id=row.id,
                user=UserInfo.of(user),
                csrf_token=row.csrf_token,
                created_at=aware(row.created_at),
                expires_at=aware(row.expires_at),
            )

    def revoke(self, session_id: str) -> bool:
        """End one session (logout); ``False`` if it was already ended or never existed."""
        with self._db.platform() as session, session.begin():
            result = session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
                .values(revoked_at=now())
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0))

    def cookie_secure(self, *, scheme: str, host: str) -> bool:
        """Whether the session cookie gets ``Secure`` for a request. Always, unless the setting is
        off *and* the request is plain http to a loopback host (the embedded demo)."""
        if self.settings.session_cookie_secure:
            return True
        return not (scheme == "http" and is_loopback_host(host))
