"""Local sign-in with username and password, throttled, audited as security events.

Why it works this way:

- **Indistinguishable failures.** A wrong password, an unknown username, a disabled account and an
  account without a local password all raise the same ``auth.bad_credentials`` with the same message,
  and an unknown name still costs one argon2 verification (against a dummy hash), so neither the
  answer nor its timing tells an attacker which accounts exist. Only a caller who gave the right
  password learns that the account's home tenant is suspended (``auth.tenant_suspended``).
- **Throttling that slows guessing and locks nobody out at will**: four counters — the name at the
  address, the address, the name everywhere, the platform — in ``login_throttle.py``. A refused
  attempt (``auth.throttled``) is refused *without checking the password*, so guessing stops paying.
- **Refusals are recorded.** The failure, the throttle and the audit entry commit together, *then* the
  error is raised; a refusal that rolled back its own record would leave no trace. Entries go to the
  user's home tenant, or to the root (central) tenant for names that do not exist — only the first
  few per address and window for those, so a spray of made-up names cannot grow the audit log
  without bound (the throttle rows still count every one).
"""

from __future__ import annotations

import math
from typing import Final, final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.login_throttle import LoginThrottles
from nentang.kernel.identity.models import User
from nentang.kernel.identity.passwords import Passwords
from nentang.kernel.identity.timeutil import now
from nentang.kernel.identity.user_info import ACTIVE, UserInfo
from nentang.kernel.tenancy.models import Tenant, TenantStatus, path_ids
from nentang.sdk.errors import PermissionDenied

#: The actor of an attempt that did not (yet) prove who it is.
LOGIN_ACTOR: Final = Actor.system("login")
BAD_CREDENTIALS_MESSAGE: Final = "wrong username or password (or the account cannot sign in with a password)"
_MAX_NAME_AUDITED: Final = 150


@final
class Throttled(PermissionDenied):
    """``auth.throttled``, with the seconds until the attempt may be made again (``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, code="auth.throttled")
        self.retry_after = retry_after


def normalise_username(username: str) -> str:
    """Usernames are lower-case; people type them in any case and with stray spaces."""
    return (username or "").strip().lower()


@final
class LoginService:
    __slots__ = ("_audit", "_db", "_passwords", "_throttles", "settings")

    def __init__(self, db: Database, audit: AuditLog, passwords: Passwords, settings: IdentitySettings) -> None:
        self._db = db
        self._audit = audit
        self._passwords = passwords
        self._throttles = LoginThrottles(settings)
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

    # -- one attempt, in one transaction -------------------------------------------------

    def _attempt(self, session: Session, name: str, password: str, client: str | None) -> UserInfo | PermissionDenied:
        moment = now()
        refusal = self._throttles.check(session, name, client, moment)
        user = session.scalar(select(User).where(User.username == name)) if name else None
        audit_tenant = user.home_tenant_id if user is not None else _root_tenant_id(session)
        detail: dict[str, object] = {"username": name[:_MAX_NAME_AUDITED]}
        if client:
            detail["client"] = client

        if refusal is not None:
            detail["locked_until"] = refusal.until.isoformat()
            detail["throttle"] = refusal.reason
            if user is not None or not self._throttles.quiet_for_unknown_names(session, client, moment):
                self._record(session, audit_tenant, "auth.login_throttled", name, detail)
            seconds = max(1, math.ceil((refusal.until - moment).total_seconds()))
            minutes = max(1, round(seconds / 60))
            return Throttled(
                f"too many failed sign-ins; try again after {refusal.until:%H:%M:%S} UTC "
                f"(in about {minutes} minute{'s' if minutes != 1 else ''})",
                retry_after=seconds,
            )

        if user is not None and user.password_hash is not None:
            verified = self._passwords.verify(user.password_hash, password)
        else:
            self._passwords.verify_dummy(password)
            verified = False

        if verified and user is not None and user.status == ACTIVE:
            suspended = suspended_home(session, user.home_tenant_id)
            if suspended is not None:
                self._record(session, audit_tenant, "auth.login_failed", name, {**detail, "reason": "tenant_suspended"})
                return PermissionDenied(
                    f"the home tenant {suspended!r} of {name!r} is suspended (or under a suspended tenant); "
                    "sign-in is paused until it is reactivated",
                    code="auth.tenant_suspended",
                )
            self._throttles.succeeded(session, name, client)
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
        quiet = user is None and self._throttles.quiet_for_unknown_names(session, client, moment)
        detail["failures"], locked_until = self._throttles.failed(session, name, client, moment)
        if locked_until is not None:
            detail["locked_until"] = locked_until.isoformat()
        if not quiet:
            self._record(session, audit_tenant, "auth.login_failed", name, detail)
        return PermissionDenied(BAD_CREDENTIALS_MESSAGE, code="auth.bad_credentials")

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


def suspended_home(session: Session, tenant_id: int) -> str | None:
    """The code of ``tenant_id`` if it or an ancestor is not active (TenantService.is_serving's rule), else None."""
    home = session.get(Tenant, tenant_id)
    if home is None:
        return str(tenant_id)
    stopped = session.scalar(
        select(func.count()).where(Tenant.id.in_(path_ids(home.path)), Tenant.status != TenantStatus.ACTIVE)
    )
    return home.code if stopped else None


def _root_tenant_id(session: Session) -> int | None:
    return session.scalar(select(Tenant.id).where(Tenant.parent_id.is_(None)))
