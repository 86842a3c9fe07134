"""OIDC sign-in for the web UI: the sign-ins in progress, and a verified identity turned into a user.

:class:`~nentang.kernel.identity.oidc.OIDCClient` checks everything the provider says; this module
keeps what the client must remember between the redirect and the callback, and decides who the
verified person is *here*.

Where a sign-in in progress is kept — a table, ``kernel_oidc_login``, not a cookie:

- **Any worker may take the callback.** Workers are stateless and share the database; a row
  written by the worker that sent the browser away is read by whichever worker the callback reaches.
- **Single use is a database fact.** The callback *deletes* the row for its ``state`` and uses what
  the delete returned (``DELETE ... RETURNING``); of two concurrent callbacks with the same state only
  one gets the row, on SQLite and PostgreSQL alike. A signed, encrypted cookie would need a server-side
  list of spent states to refuse a replay — a table anyway — plus a key to manage and rotate.
- **Nothing in the table can be presented.** The key is the SHA-256 of the state; the browser is
  bound by the SHA-256 of a random cookie (``browser_hash``). The nonce and PKCE verifier are stored
  in clear because the callback needs them; they are worthless without the provider's code, which
  only the browser's callback carries, and the row lives at most ``login_timeout_seconds``.
- **Bound to the browser.** ``/auth/oidc/start`` gives the browser a random binding cookie (reused if
  it already has one, so two tabs can sign in at once); a callback whose state was started by another
  browser — a planted link, login CSRF — is refused (``auth.oidc_state_mismatch``).
- **Expiring.** A row older than the issuer's ``login_timeout_seconds`` is refused by the client
  (``auth.oidc_login_expired``) and swept by the next start, so the table stays small without a job.

Who the person is: an :class:`OIDCIdentity` is linked by ``(issuer, subject)`` — never by e-mail, which
can change hands — to a user an administrator provisioned and linked (``nentang user link-oidc``).
Unknown subjects are refused, never created: users are provisioned by administrators. A disabled user,
or one whose home tenant (or an ancestor) is suspended, is refused too.

Codes (all :class:`PermissionDenied`, each refusal audited as ``auth.login_failed`` with ``method``
``oidc`` and the reason, in the user's home tenant or, when no user is known, the root tenant):
``auth.oidc_state_unknown`` (no state, or no sign-in in progress with it: already used, swept, or
never started), ``auth.oidc_state_mismatch`` (started in another browser), every login and ID-token
code of :mod:`~nentang.kernel.identity.oidc`, ``auth.oidc_unknown_subject``, ``auth.oidc_user_disabled``,
``auth.tenant_suspended``. The provider's own faults (``auth.oidc_unreachable`` and the other
infrastructure codes) are :class:`NentangError` and are logged, not audited: they are not anyone's
attempt. Success is audited as ``auth.login`` with ``method`` ``oidc``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, final

import httpx
import structlog
from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.login import LOGIN_ACTOR, suspended_home
from nentang.kernel.identity.models import OIDCPendingLogin, User
from nentang.kernel.identity.oidc import LoginRequest, OIDCClient
from nentang.kernel.identity.oidc_id_token import OIDCIdentity
from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.identity.user_info import ACTIVE, UserInfo
from nentang.kernel.tenancy.models import Tenant
from nentang.sdk.errors import NentangError, PermissionDenied, ValidationFailed

#: Where a browser lands after sign-in when the start named nowhere.
DEFAULT_RETURN_TO: Final = "/auth/me"
MAX_RETURN_TO: Final = 2048
#: ``secrets.token_urlsafe(32)``: the browser-binding cookie's value.
_BROWSER_SECRET: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_MAX_AUDITED: Final = 255


@final
@dataclass(frozen=True, slots=True)
class StartedLogin:
    """What ``/auth/oidc/start`` hands the browser: where to go, and the binding cookie's value."""

    authorization_url: str
    browser_secret: str = field(repr=False)


@final
@dataclass(frozen=True, slots=True)
class SignedIn:
    """A completed OIDC sign-in: the linked user and where the browser asked to land."""

    user: UserInfo
    return_to: str


def safe_return_to(value: str | None) -> str:
    """``value`` if it is a path on this site; :data:`DEFAULT_RETURN_TO` if absent; else ValidationFailed.

    Accepted: an absolute path (``/t/01/``), optionally with a query. Refused: anything with a scheme
    or host, ``//host`` and ``/\\host`` (browsers read both as another host), backslashes, control
    characters, and more than :data:`MAX_RETURN_TO` characters — an open redirect is a phishing tool.
    """
    if value is None or value == "":
        return DEFAULT_RETURN_TO
    if (
        len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(not ch.isprintable() or ch.isspace() for ch in value)
    ):  # a single leading "/" and no backslash: neither a scheme nor a host can follow
        raise ValidationFailed(
            "return_to must be a path on this site, such as /t/01/ (no scheme, no host, no backslash, "
            f"at most {MAX_RETURN_TO} characters)",
            code="auth.oidc_bad_return_to",
        )
    return value


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@final
class OIDCLoginService:
    """OIDC sign-in against the one configured issuer; the methods block (run them in a thread pool)."""

    __slots__ = ("_audit", "_db", "client", "settings")

    def __init__(self, db: Database, audit: AuditLog, settings: OIDCSettings, http: httpx.Client | None = None) -> None:
        self._db = db
        self._audit = audit
        self.settings = settings
        self.client = OIDCClient(settings, http)

    def close(self) -> None:
        self.client.close()

    @property
    def login_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.login_timeout_seconds)

    # -- start -----------------------------------------------------------------------------------

    def start(self, *, return_to: str, browser_secret: str | None) -> StartedLogin:
        """Begin a sign-in: remember it (bound to the browser) and say where to send the browser.

        :param return_to: an already checked path (:func:`safe_return_to`).
        :param browser_secret: the browser's binding cookie, if it sent one; reused when well formed.
        :raises NentangError: the provider cannot be reached or is misconfigured (infrastructure).
        """
        login = self.client.begin_login()
        if browser_secret is None or not _BROWSER_SECRET.match(browser_secret):
            browser_secret = secrets.token_urlsafe(32)
        moment = now()
        with self._db.platform() as session, session.begin():
            session.execute(
                delete(OIDCPendingLogin)
                .where(OIDCPendingLogin.created_at < moment - self.login_timeout)
                .execution_options(synchronize_session=False)
            )
            session.add(
                OIDCPendingLogin(
                    state_hash=_digest(login.state),
                    browser_hash=_digest(browser_secret),
                    nonce=login.nonce,
                    code_verifier=login.code_verifier,
                    return_to=return_to,
                    created_at=moment,
                )
            )
        return StartedLogin(login.authorization_url, browser_secret)

    # -- callback --------------------------------------------------------------------------------

    def complete(self, params: Mapping[str, str], *, browser_secret: str | None, client: str | None = None) -> SignedIn:
        """Finish a sign-in from the callback's query parameters.

        The sign-in in progress is consumed first (committed at once), so a callback is used at most
        once whatever happens next. Every refusal is audited, committed, then raised.

        :param browser_secret: the browser's binding cookie as the callback request carried it.
        :param client: the browser's address, for the audit entries.
        :raises PermissionDenied: with one of the codes in the module docstring.
        :raises NentangError: the provider failed (infrastructure); nothing is audited.
        """
        detail: dict[str, object] = {"method": "oidc", "issuer": self.settings.issuer}
        if client:
            detail["client"] = client
        state = params.get("state")
        if not state and "error" in params:
            # RFC 6749 wants the state echoed on an error too, but some providers leave it out. An error
            # signs nobody in, so report the provider's refusal (the client does, before any exchange)
            # rather than an unknown state; the sign-in in progress, unknown here, simply expires.
            self._verified(LoginRequest("", "", "", "", created_at=time.time()), params, detail)
        pending = self._consume(state) if state else None
        if pending is None:
            raise self._refuse(
                PermissionDenied(
                    "this sign-in is not in progress here: it was already completed, it expired, or it never "
                    "started in this browser; start again from /auth/oidc/start",
                    code="auth.oidc_state_unknown",
                ),
                detail,
            )
        if browser_secret is None or not hmac.compare_digest(
            _digest(browser_secret).encode(), pending.browser_hash.encode()
        ):
            raise self._refuse(
                PermissionDenied(
                    f"this sign-in at {self.settings.issuer!r} was started in another browser (state mismatch); "
                    "a link may have been planted — start again from /auth/oidc/start",
                    code="auth.oidc_state_mismatch",
                ),
                detail,
            )
        request = LoginRequest(
            authorization_url="",
            state=state or "",
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            created_at=aware(pending.created_at).timestamp(),
        )
        identity = self._verified(request, params, detail)
        return SignedIn(self._admit(identity, detail), pending.return_to)

    def _verified(self, request: LoginRequest, params: Mapping[str, str], detail: dict[str, object]) -> OIDCIdentity:
        """The client's verdict on the callback; its refusals audited, the provider's faults logged."""
        try:
            return self.client.complete_login(request, params)
        except PermissionDenied as exc:
            raise self._refuse(exc, detail) from None
        except NentangError as exc:
            structlog.get_logger("nentang.identity").warning(
                "auth.oidc_provider_fault", code=exc.code, error=exc.message, issuer=self.settings.issuer
            )
            raise

    def _consume(self, state: str) -> Row[tuple[str, str, str, str, datetime]] | None:
        """Delete the sign-in in progress for ``state`` and return what it held; ``None`` if there was none."""
        with self._db.platform() as session, session.begin():
            return session.execute(
                delete(OIDCPendingLogin)
                .where(OIDCPendingLogin.state_hash == _digest(state))
                .returning(
                    OIDCPendingLogin.browser_hash,
                    OIDCPendingLogin.nonce,
                    OIDCPendingLogin.code_verifier,
                    OIDCPendingLogin.return_to,
                    OIDCPendingLogin.created_at,
                )
                .execution_options(synchronize_session=False)
            ).first()

    def _admit(self, identity: OIDCIdentity, detail: dict[str, object]) -> UserInfo:
        """The active user linked to ``identity``, whose home tenant serves; audited either way."""
        detail["subject"] = identity.subject
        with self._db.platform() as session:
            with session.begin():
                outcome = self._admit_in(session, identity, detail)
            if isinstance(outcome, PermissionDenied):
                raise outcome  # only now: the refusal and its audit entry are committed
            return outcome

    def _admit_in(
        self, session: Session, identity: OIDCIdentity, detail: dict[str, object]
    ) -> UserInfo | PermissionDenied:
        user = session.scalar(
            select(User)
            .where(User.oidc_issuer == identity.issuer, User.oidc_subject == identity.subject)
            .with_for_update()
        )
        if user is None:
            refusal = PermissionDenied(
                f"no user here is linked to this account of {identity.issuer!r} (subject {identity.subject[:80]!r}); "
                "users are provisioned by administrators — ask yours to link it (nentang user link-oidc)",
                code="auth.oidc_unknown_subject",
            )
            return self._record(session, refusal, detail)
        detail["username"] = user.username
        if user.status != ACTIVE:
            refusal = PermissionDenied(
                f"the account {user.username!r} is disabled; ask an administrator", code="auth.oidc_user_disabled"
            )
            return self._record(session, refusal, detail, user)
        home_code = suspended_home(session, user.home_tenant_id)
        if home_code is not None:
            refusal = PermissionDenied(
                f"the home tenant {home_code!r} of {user.username!r} is suspended (or under a suspended tenant); "
                "sign-in is paused until it is reactivated",
                code="auth.tenant_suspended",
            )
            return self._record(session, refusal, detail, user)
        user.last_login_at = now()
        info = UserInfo.of(user)
        self._audit.append(
            session,
            tenant_id=user.home_tenant_id,
            actor=info.actor,
            action="auth.login",
            target=user.username,
            detail=detail,
        )
        return info

    def _refuse(self, error: PermissionDenied, detail: dict[str, object]) -> PermissionDenied:
        """Audit a refusal made before any user is known (committed on its own); return it to raise."""
        with self._db.platform() as session, session.begin():
            return self._record(session, error, detail)

    def _record(
        self, session: Session, error: PermissionDenied, detail: dict[str, object], user: User | None = None
    ) -> PermissionDenied:
        """Append ``auth.login_failed`` for a refusal inside the caller's transaction; return the refusal."""
        tenant_id = user.home_tenant_id if user is not None else _root_tenant_id(session)
        if tenant_id is not None:  # no tenant at all yet: no user can exist, nothing to attach the entry to
            target = user.username if user is not None else f"oidc:{detail.get('subject', '(unknown)')}"
            self._audit.append(
                session,
                tenant_id=tenant_id,
                actor=LOGIN_ACTOR,
                action="auth.login_failed",
                target=target[:_MAX_AUDITED],
                detail={**detail, "reason": error.code},
            )
        return error


def _root_tenant_id(session: Session) -> int | None:
    return session.scalar(select(Tenant.id).where(Tenant.parent_id.is_(None)))


__all__ = ["DEFAULT_RETURN_TO", "OIDCLoginService", "SignedIn", "StartedLogin", "safe_return_to"]
