"""Local sign-in with username and password, throttled per username, audited as security events.

Why it works this way:

- **Indistinguishable failures.** A wrong password, an unknown username, a disabled account and an
  account without a local password all raise the same ``auth.bad_credentials`` with the same message,
  and an unknown name still costs one argon2 verification (against a dummy hash), so neither the
  answer nor its timing tells an attacker which accounts exist.
- **Throttling per name, for every name.** The counter lives in ``kernel_login_throttle`` under
  ``user:<name>``, for names that exist and names that do not (refusing only real names would reveal
  them). After ``login_max_failures`` failures within ``login_window`` the name is locked for
  ``login_lockout``: attempts are refused *without checking the password*, so guessing stops paying.
  Success clears the counter. The row is locked for the attempt (``SELECT ... FOR UPDATE`` on
  PostgreSQL, SQLite's single writer), so concurrent guesses are counted one by one, not in a burst.
- **Refusals are recorded.** The failure, the throttle and the audit entry commit together, *then* the
  error is raised; a refusal that rolled back its own record would leave no trace. Entries go to the
  user's home tenant, or to the root (central) tenant for names that do not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, final

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import LoginThrottle, User
from nentang.kernel.identity.passwords import Passwords
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.identity.user_info import ACTIVE, UserInfo
from nentang.kernel.tenancy.models import Tenant
from nentang.sdk.errors import PermissionDenied

#: The actor of an attempt that did not (yet) prove who it is.
LOGIN_ACTOR: Final = Actor.system("login")
BAD_CREDENTIALS_MESSAGE: Final = "wrong username or password (or the account cannot sign in with a password)"
_KEY_PREFIX: Final = "user:"
_MAX_NAME_IN_KEY: Final = 150


def throttle_key(username: str) -> str:
    """The throttle key of a (normalised) username; bounded so any input fits the column."""
    return _KEY_PREFIX + username[:_MAX_NAME_IN_KEY]


def normalise_username(username: str) -> str:
    """Usernames are lower-case; people type them in any case and with stray spaces."""
    return (username or "").strip().lower()


@final
class LoginService:
    __slots__ = ("_audit", "_db", "_passwords", "settings")

    def __init__(self, db: Database, audit: AuditLog, passwords: Passwords, settings: IdentitySettings) -> None:
        self._db = db
        self._audit = audit
        self._passwords = passwords
        self.settings = settings

    def authenticate(self, username: str, password: str, *, client: str | None = None) -> UserInfo:
        """The user whose name and password these are, or a :class:`PermissionDenied` with code
        ``auth.bad_credentials`` or ``auth.throttled``. ``client`` (an address) goes into the audit entry."""
        name = normalise_username(username)
        password = password if isinstance(password, str) else ""
        with self._db.platform() as session:
            with session.begin():
                outcome = self._attempt(session, name, password, client)
            if isinstance(outcome, PermissionDenied):
                raise outcome  # only now: the refusal and its audit entry are committed
            return outcome

    def locked_until(self, username: str) -> datetime | None:
        """When a throttled name may try again (``None`` if it is not locked now)."""
        with self._db.platform() as session:
            row = session.get(LoginThrottle, throttle_key(normalise_username(username)))
            if row is None or row.locked_until is None or aware(row.locked_until) <= now():
                return None
            return aware(row.locked_until)

    # -- one attempt, in one transaction -------------------------------------------------

    def _attempt(self, session: Session, name: str, password: str, client: str | None) -> UserInfo | PermissionDenied:
        moment = now()
        throttle = _locked_throttle_row(session, throttle_key(name), moment)
        user = session.scalar(select(User).where(User.username == name)) if name else None
        audit_tenant = user.home_tenant_id if user is not None else _root_tenant_id(session)
        detail: dict[str, object] = {"username": name[:_MAX_NAME_IN_KEY]}
        if client:
            detail["client"] = client

        if throttle.locked_until is not None and aware(throttle.locked_until) > moment:
            until = aware(throttle.locked_until)
            detail["locked_until"] = until.isoformat()
            self._record(session, audit_tenant, "auth.login_throttled", name, detail)
            minutes = max(1, round((until - moment).total_seconds() / 60))
            return PermissionDenied(
                f"too many failed sign-ins for this username; try again after {until:%H:%M:%S} UTC "
                f"(in about {minutes} minute{'s' if minutes != 1 else ''})",
                code="auth.throttled",
            )

        if user is not None and user.password_hash is not None:
            verified = self._passwords.verify(user.password_hash, password)
        else:
            self._passwords.verify_dummy(password)
            verified = False

        if verified and user is not None and user.status == ACTIVE:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == throttle.key))
            if user.password_hash is not None and self._passwords.needs_rehash(user.password_hash):
                user.password_hash = self._passwords.hash(password)
                detail["rehashed"] = True
            user.last_login_at = moment
            self._audit.append(
                session,
                tenant_id=user.home_tenant_id,
                actor=Actor("user", str(user.id)),
                action="auth.login",
                target=name,
                detail={**detail, "method": "password"},
            )
            return UserInfo.of(user)

        detail["reason"] = _failure_reason(user, verified)
        self._count_failure(throttle, moment)
        detail["failures"] = throttle.failures
        if throttle.locked_until is not None and aware(throttle.locked_until) > moment:
            detail["locked_until"] = aware(throttle.locked_until).isoformat()
        self._record(session, audit_tenant, "auth.login_failed", name, detail)
        return PermissionDenied(BAD_CREDENTIALS_MESSAGE, code="auth.bad_credentials")

    def _count_failure(self, row: LoginThrottle, moment: datetime) -> None:
        if aware(row.window_started_at) + self.settings.login_window <= moment or row.locked_until is not None:
            row.failures, row.window_started_at, row.locked_until = 0, moment, None
        row.failures += 1
        if row.failures >= self.settings.login_max_failures:
            row.locked_until = moment + self.settings.login_lockout

    def _record(
        self, session: Session, tenant_id: int | None, action: str, name: str, detail: dict[str, object]
    ) -> None:
        if tenant_id is None:  # no tenant at all yet: no user can exist, nothing to attach the entry to
            return
        self._audit.append(
            session,
            tenant_id=tenant_id,
            actor=LOGIN_ACTOR,
            action=action,
            target=name[:255] or "(empty)",
            detail=detail,
        )


def _failure_reason(user: User | None, verified: bool) -> str:
    """Why an attempt failed, for the audit log only (the caller always sees bad_credentials)."""
    if user is None:
        return "unknown_user"
    if user.password_hash is None:
        return "no_local_password"
    if not verified:
        return "wrong_password"
    return "disabled"


def _locked_throttle_row(session: Session, key: str, moment: datetime) -> LoginThrottle:
    """The throttle row for ``key``, created if missing and locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, window_started_at=moment)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _root_tenant_id(session: Session) -> int | None:
    return session.scalar(select(Tenant.id).where(Tenant.parent_id.is_(None)))
