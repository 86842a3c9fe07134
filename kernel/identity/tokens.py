"""API tokens for integrators: created for one tenant with roles and an expiry, shown once, stored hashed.

Why this shape:

- **Format** ``nt_<8 hex>_<43 url-safe chars>``: the ``nt_`` marker lets secret scanners and log
  filters recognise a leaked token; the 8-hex *prefix* is stored in clear so people can tell their
  tokens apart; the secret is 256 random bits. Only the SHA-256 of the whole token is stored (a slow
  hash adds nothing to 256 random bits) and compared in constant time after the indexed look-up.
- **Roles through the authoriser.** A token is the principal ``token:<id>``; its roles are grants made
  with :meth:`Authorizer.grant` *in the same transaction* as the token row, so the delegation rules
  apply: an administrator cannot give a token a permission it does not hold itself, and when it tries,
  nothing is left behind (no token row, no grant, no audit entry).
- **Distinct refusals** (``auth.token_malformed``, ``auth.token_unknown``, ``auth.token_revoked``,
  ``auth.token_expired``) tell an integrator what to fix; none of them echoes the token. Using a
  revoked or expired token is a security event and is audited in the token's tenant, at most once per
  ``touch_interval`` per token and worker so a misconfigured client cannot flood the log.
- **Last use** is recorded, but written at most once per ``touch_interval`` per token (a conditional
  UPDATE, so several workers agree), never once per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Final, final

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.audit.refusals import RefusalAudit
from nentang.kernel.authz.models import Grant, Role
from nentang.kernel.authz.permissions import TOKENS_MANAGE
from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import run_after_transaction
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.audit_throttle import AuditThrottle
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import ApiToken
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.identity.token_cache import VerifiedTokens
from nentang.kernel.identity.users import require_operator, tenant_by_code
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

if TYPE_CHECKING:
    from nentang.kernel.authz.service import Authorizer
    from nentang.kernel.propagation.watcher import ChangeWatcher

TOKEN_PATTERN: Final = re.compile(r"^nt_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
MAX_LIFETIME_DAYS: Final = 365
MAX_ROLES: Final = 32
#: The largest page :meth:`TokenService.list` gives out.
MAX_LIST_LIMIT: Final = 1000


@final
@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token without its secret or hash; safe to list and to log."""

    id: int
    tenant_id: int
    name: str
    #: ``nt_<8 hex>``: the start of the token, to tell tokens apart.
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    #: Role names granted to the token at its tenant; ``None`` where not loaded (authentication).
    roles: tuple[str, ...] | None = None

    @property
    def principal(self) -> str:
        return f"token:{self.id}"

    @property
    def actor(self) -> Actor:
        return Actor("token", str(self.id))

    @classmethod
    def of(cls, row: ApiToken, roles: tuple[str, ...] | None = None) -> TokenInfo:
        return cls(
            id=row.id or 0,
            tenant_id=row.tenant_id,
            name=row.name,
            prefix=row.prefix,
            created_by=row.created_by,
            created_at=aware(row.created_at),
            expires_at=aware(row.expires_at),
            revoked_at=aware(row.revoked_at) if row.revoked_at else None,
            revoked_by=row.revoked_by,
            last_used_at=aware(row.last_used_at) if row.last_used_at else None,
            roles=roles,
        )


@final
@dataclass(frozen=True, slots=True)
class CreatedToken:
    """The one moment the plaintext exists: hand ``plaintext`` to the integrator, then drop it."""

    plaintext: str
    token: TokenInfo

    def __repr__(self) -> str:
        return f"CreatedToken(token={self.token!r}, plaintext='{self.token.prefix}_…')"


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("ascii")).hexdigest()


@final
class TokenService:
    __slots__ = ("_attempts", "_audit", "_authz", "_db", "_refusals", "_verified", "settings")

    def __init__(
        self, db: Database, audit: AuditLog, authz: Authorizer, settings: IdentitySettings, watcher: ChangeWatcher
    ) -> None:
        self._db = db
        self._audit = audit
        self._authz = authz
        self.settings = settings
        self._refusals = AuditThrottle(settings.touch_interval)
        self._attempts = RefusalAudit(db, audit)
        self._verified = VerifiedTokens(settings.touch_interval)
        watcher.subscribe(topics.IDENTITY, self._verified.forget)

    # -- administration ------------------------------------------------------------------

    def create(
        self, actor: Actor, *, tenant_code: str, name: str, roles: list[str], expires_in_days: int
    ) -> CreatedToken:
        """Create a token for a tenant. ``actor`` must hold kernel.tokens.manage there, and every
        permission of every role it gives (the authoriser's delegation check)."""
        return self._create(actor, tenant_code, name, roles, expires_in_days, checked=True)

    def create_as_operator(
        self, actor: Actor, *, tenant_code: str, name: str, roles: list[str], expires_in_days: int
    ) -> CreatedToken:
        """The operator path (CLI): no permission or delegation check; system/cli actors only."""
        require_operator(actor)
        return self._create(actor, tenant_code, name, roles, expires_in_days, checked=False)

    def revoke(self, actor: Actor, token_id: int) -> TokenInfo:
        """Revoke a token and remove its grants; ``actor`` needs kernel.tokens.manage at its tenant."""
        return self._revoke(actor, token_id, checked=True)

    def revoke_as_operator(self, actor: Actor, token_id: int) -> TokenInfo:
        require_operator(actor)
        return self._revoke(actor, token_id, checked=False)

    def list(self, actor: Actor, tenant_code: str, *, limit: int | None = None, after: int = 0) -> list[TokenInfo]:
        """A tenant's tokens by id (never their secrets); ``actor`` needs kernel.tokens.manage there.

        Paged by keyset: at most ``limit`` tokens (all without one) with an id above ``after``.
        """
        tenant_id = self._tenant_id(tenant_code)
        self._authz.require(str(actor), tenant_id, TOKENS_MANAGE)
        return self._list(tenant_id, limit, after)

    def list_as_operator(self, tenant_code: str, *, limit: int | None = None, after: int = 0) -> list[TokenInfo]:
        return self._list(self._tenant_id(tenant_code), limit, after)

    # -- authentication ------------------------------------------------------------------

    def authenticate(self, plaintext: str) -> TokenInfo:
        """The live token behind a bearer string, or a PermissionDenied saying why not."""
        if not isinstance(plaintext, str) or not TOKEN_PATTERN.match(plaintext):
            raise PermissionDenied(
                "the bearer token is malformed (expected nt_<prefix>_<secret>)", code="auth.token_malformed"
            )
        digest = token_hash(plaintext)
        moment = now()
        known = self._verified.fresh(digest, moment)
        if known is not None:
            return known
        generation = self._verified.generation
        with self._db.platform() as session:
            with session.begin():
                outcome = self._check(session, plaintext, digest, moment)
            if isinstance(outcome, PermissionDenied):
                raise outcome  # after the commit, so the audit entry of the refusal stays
        self._verified.remember(digest, outcome, generation)
        return outcome

    def authenticate_known(self, plaintext: str) -> TokenInfo | None:
        """:meth:`authenticate` answered from memory (no blocking: fit for the event loop), or
        ``None`` when it needs the database — a token not verified here lately, expired, revoked,
        malformed, or whose last use is due to be recorded."""
        if not TOKEN_PATTERN.match(plaintext):
            return None
        return self._verified.fresh(token_hash(plaintext), now())

    # -- implementation ------------------------------------------------------------------

    def _create(
        self, actor: Actor, tenant_code: str, name: str, roles: list[str], expires_in_days: int, *, checked: bool
    ) -> CreatedToken:
        name = _check_name(name)
        wanted = _check_roles(roles)
        lifetime = _check_lifetime(expires_in_days)
        prefix = f"nt_{secrets.token_hex(4)}"
        plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
        created = now()
        with self._db.platform() as session, session.begin():
            tenant = tenant_by_code(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, TOKENS_MANAGE)
            if session.scalar(select(ApiToken.id).where(ApiToken.tenant_id == tenant_id, ApiToken.name == name)):
                raise _name_taken(name, tenant_code)
            row = ApiToken(
                tenant_id=tenant_id,
                name=name,
                token_hash=token_hash(plaintext),
                prefix=prefix,
                created_by=str(actor),
                created_at=created,
                expires_at=created + lifetime,
            )
            session.add(row)
            try:
                session.flush()
            except SAIntegrityError as exc:
                raise _name_taken(name, tenant_code) from exc
            principal = f"token:{row.id}"
            for role in wanted:
                if checked:
                    self._authz.grant(session, actor=actor, principal=principal, role=role, tenant_id=tenant_id)
                else:
                    self._authz.grant_as_operator(
                        session, actor=actor, principal=principal, role=role, tenant_id=tenant_id
                    )
            detail = {"token_id": row.id, "prefix": prefix, "roles": list(wanted), "expires_at": row.expires_at}
            self._audit.append(
                session, tenant_id=tenant_id, actor=actor, action="token.create", target=name, detail=detail
            )
            return CreatedToken(plaintext=plaintext, token=TokenInfo.of(row, wanted))

    def _revoke(self, actor: Actor, token_id: int, *, checked: bool) -> TokenInfo:
        with self._db.platform() as session, session.begin():
            row = session.get(ApiToken, token_id)
            unknown = NotFound(f"no API token with id {token_id}", code="token.not_found")
            if row is None:
                raise unknown
            if checked and TOKENS_MANAGE not in self._authz.permissions_in(session, str(actor), row.tenant_id):
                # Answered as an id nobody holds (no probing which tokens exist elsewhere), and
                # recorded where the token lives and where the actor does.
                record = partial(
                    self._attempts.record,
                    actor=actor,
                    tenant_ids=(row.tenant_id,),
                    action="token.refused",
                    target=row.name,
                    code="permission.denied",
                    detail={"attempted": "token.revoke", "token_id": token_id},
                )
                run_after_transaction(session, record)
                raise unknown
            if row.revoked_at is not None:
                raise Conflict(f"API token {token_id} ({row.name!r}) is already revoked", code="token.already_revoked")
            row.revoked_at, row.revoked_by = now(), str(actor)
            removed = self._authz.revoke_all_for(session, actor=actor, principal=f"token:{token_id}")
            bump(session, topics.IDENTITY, f"token:{token_id}")  # every worker forgets it verified it
            self._audit.append(
                session,
                tenant_id=row.tenant_id,
                actor=actor,
                action="token.revoke",
                target=row.name,
                detail={"token_id": token_id, "prefix": row.prefix, "grants_removed": removed},
            )
            return TokenInfo.of(row, ())

    def _list(self, tenant_id: int, limit: int | None, after: int) -> list[TokenInfo]:
        if limit is not None and not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")
        query = select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.id > after).order_by(ApiToken.id)
        with self._db.platform() as session:
            rows = session.scalars(query.limit(limit)).all()
            roles: dict[str, list[str]] = {}
            principals = [f"token:{r.id}" for r in rows]
            if principals:
                pairs = session.execute(
                    select(Grant.principal, Role.name)
                    .join(Role, Role.id == Grant.role_id)
                    .where(Grant.principal.in_(principals))
                    .order_by(Role.name)
                )
                for principal, role_name in pairs:
                    roles.setdefault(principal, []).append(role_name)
            return [TokenInfo.of(r, tuple(roles.get(f"token:{r.id}", ()))) for r in rows]

    def _tenant_id(self, tenant_code: str) -> int:
        with self._db.platform() as session:
            return tenant_by_code(session, tenant_code).id or 0

    def _check(self, session: Session, plaintext: str, digest: str, moment: datetime) -> TokenInfo | PermissionDenied:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            structlog.get_logger("nentang.auth").warning("auth.token_unknown", prefix=plaintext[:11])
            return PermissionDenied("the bearer token is not known here", code="auth.token_unknown")
        if row.revoked_at is not None:
            return self._refuse(session, row, moment, "auth.token_revoked", "the bearer token was revoked")
        if moment >= aware(row.expires_at):
            expired = f"the bearer token expired at {aware(row.expires_at):%Y-%m-%d %H:%M} UTC; ask for a new one"
            return self._refuse(session, row, moment, "auth.token_expired", expired)
        self._touch(session, row, moment)
        return TokenInfo.of(row)

    def _touch(self, session: Session, row: ApiToken, moment: datetime) -> None:
        cutoff = moment - self.settings.touch_interval
        if row.last_used_at is not None and aware(row.last_used_at) > cutoff:
            return
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id, or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff))
            .values(last_used_at=moment)
            .execution_options(synchronize_session=False)
        )
        row.last_used_at = moment

    def _refuse(self, session: Session, row: ApiToken, moment: datetime, code: str, message: str) -> PermissionDenied:
        token_id = row.id or 0
        if self._refusals.due(token_id, moment):
            self._audit.append(
                session,
                tenant_id=row.tenant_id,
                actor=Actor("token", str(token_id)),
                action="auth.token_refused",
                target=row.name,
                detail={"token_id": token_id, "prefix": row.prefix, "reason": code},
            )
        return PermissionDenied(message, code=code)


def _name_taken(name: str, tenant_code: str) -> Conflict:
    return Conflict(f"tenant {tenant_code!r} already has an API token named {name!r}", code="token.name_taken")


def _check_name(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 128:
        raise ValidationFailed(
            "token name must be 1-128 characters (say who uses it and for what)", code="token.bad_name"
        )
    return name


def _check_roles(roles: list[str]) -> tuple[str, ...]:
    if isinstance(roles, str) or not roles or not all(isinstance(r, str) and r.strip() for r in roles):
        raise ValidationFailed("a token needs at least one role, given as a list of role names", code="token.bad_roles")
    wanted = tuple(dict.fromkeys(r.strip() for r in roles))
    if len(wanted) > MAX_ROLES:
        raise ValidationFailed(f"a token may have at most {MAX_ROLES} roles", code="token.bad_roles")
    return wanted


def _check_lifetime(days: int) -> timedelta:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LIFETIME_DAYS:
        raise ValidationFailed(
            f"expires_in_days must be a whole number of days from 1 to {MAX_LIFETIME_DAYS} (got {days!r}); "
            "every token expires",
            code="token.bad_expiry",
        )
    return timedelta(days=days)
