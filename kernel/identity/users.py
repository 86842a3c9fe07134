"""Users: create, read, set a password, disable and enable, link to an identity provider's account —
each act audited in the home tenant.

Why two entry points per write: an administrator's act (``create_user``) is checked against the
administrator's own permission (``kernel.users.manage`` at the user's home tenant, which a grant at
any ancestor gives), read fresh inside the same transaction as the write, so a revoke that commits a
moment earlier is honoured. An operator's act (``create_user_as_operator``: the CLI, the demo's
bootstrap) has no principal to check — whoever runs the command already owns the server — so it
says so in its name, accepts only ``system``/``cli`` actors, and is audited all the same.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Final, final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.audit.refusals import RefusalAudit, mark_audited
from nentang.kernel.authz.models import Grant
from nentang.kernel.authz.permissions import USERS_MANAGE, USERS_READ
from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import run_after_transaction
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import User
from nentang.kernel.identity.passwords import Passwords, check_password_policy
from nentang.kernel.identity.sessions import revoke_all_for_user
from nentang.kernel.identity.timeutil import now
from nentang.kernel.identity.user_info import ACTIVE, DISABLED, UserInfo
from nentang.kernel.identity.user_rules import (
    check_display_name,
    check_email,
    check_oidc_account,
    check_username,
    oidc_taken,
    taken,
    unavailable,
    unknown_user,
)
from nentang.kernel.tenancy.models import Tenant, subtree_upper_bound
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, TenantNotFound, ValidationFailed

if TYPE_CHECKING:
    from nentang.kernel.authz.service import Authorizer

OPERATOR_KINDS: Final = frozenset({"system", "cli"})


def user_by_name(session: Session, username: str) -> User:
    row = session.scalar(select(User).where(User.username == username))
    if row is None:
        raise unknown_user(username)
    return row


@final
class UserService:
    __slots__ = ("_audit", "_authz", "_db", "_passwords", "_refusals")

    def __init__(self, db: Database, audit: AuditLog, authz: Authorizer, passwords: Passwords) -> None:
        self._db = db
        self._audit = audit
        self._authz = authz
        self._passwords = passwords
        # A script hammering a refused action writes one entry per minute, not one per attempt.
        self._refusals = RefusalAudit(db, audit)

    # -- reads ---------------------------------------------------------------------------

    def get(self, username: str) -> UserInfo:
        with self._db.platform() as session:
            return UserInfo.of(user_by_name(session, username))

    def get_by_id(self, user_id: int) -> UserInfo:
        with self._db.platform() as session:
            row = session.get(User, user_id)
            if row is None:
                raise NotFound(f"no user with id {user_id}", code="user.not_found")
            return UserInfo.of(row)

    def list(
        self, *, home_tenant_code: str | None = None, subtree: bool = False, limit: int = 100, after: str = ""
    ) -> list[UserInfo]:
        """Users by username (paged with ``after``), optionally only those homed at one tenant — or,
        with ``subtree``, at that tenant or anywhere below it (a province's users with its communes')."""
        if limit < 1 or limit > 1000:
            raise ValidationFailed(f"limit must be between 1 and 1000, not {limit}")
        with self._db.platform() as session:
            query = select(User).where(User.username > after).order_by(User.username).limit(limit)
            if home_tenant_code is not None:
                home = tenant_by_code(session, home_tenant_code)
                if subtree:
                    below = select(Tenant.id).where(
                        Tenant.path >= home.path, Tenant.path < subtree_upper_bound(home.path)
                    )
                    query = query.where(User.home_tenant_id.in_(below))
                else:
                    query = query.where(User.home_tenant_id == home.id)
            return [UserInfo.of(r) for r in session.scalars(query)]

    # -- writes --------------------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        *,
        username: str,
        display_name: str,
        home_tenant_code: str,
        password: str | None = None,
        email: str | None = None,
    ) -> UserInfo:
        """Create a user homed at a tenant; ``actor`` must hold kernel.users.manage there.
        Without a password the user can sign in only through the identity provider (OIDC)."""
        return self._create(actor, username, display_name, home_tenant_code, password, email, checked=True)

    def create_user_as_operator(
        self,
        actor: Actor,
        *,
        username: str,
        display_name: str,
        home_tenant_code: str,
        password: str | None = None,
        email: str | None = None,
    ) -> UserInfo:
        """The operator path (CLI, bootstrap): no permission check, only system/cli actors."""
        require_operator(actor)
        return self._create(actor, username, display_name, home_tenant_code, password, email, checked=False)

    def set_password(self, actor: Actor, username: str, password: str) -> UserInfo:
        """Set a new password (an administrator's reset); the user's open web sessions end."""
        return self._set_password(actor, username, password, checked=True)

    def set_password_as_operator(self, actor: Actor, username: str, password: str) -> UserInfo:
        require_operator(actor)
        return self._set_password(actor, username, password, checked=False)

    def disable(self, actor: Actor, username: str, *, reason: str = "") -> UserInfo:
        """Disable a user: no more sign-ins, and every open web session is revoked at once."""
        return self._set_status(actor, username, DISABLED, reason, checked=True)

    def disable_as_operator(self, actor: Actor, username: str, *, reason: str = "") -> UserInfo:
        require_operator(actor)
        return self._set_status(actor, username, DISABLED, reason, checked=False)

    def enable(self, actor: Actor, username: str) -> UserInfo:
        return self._set_status(actor, username, ACTIVE, "", checked=True)

    def enable_as_operator(self, actor: Actor, username: str) -> UserInfo:
        require_operator(actor)
        return self._set_status(actor, username, ACTIVE, "", checked=False)

    def link_oidc(self, actor: Actor, username: str, *, issuer: str, subject: str) -> UserInfo:
        """Let a user sign in through an identity provider: link them to ``(issuer, subject)``.

        OIDC sign-in accepts only subjects linked this way (users are provisioned, never created by a
        sign-in). A user has at most one link; linking again replaces it (the audit entry keeps the
        old one). An account at the provider links to one user only.
        """
        return self._link_oidc(actor, username, issuer, subject, checked=True)

    def link_oidc_as_operator(self, actor: Actor, username: str, *, issuer: str, subject: str) -> UserInfo:
        require_operator(actor)
        return self._link_oidc(actor, username, issuer, subject, checked=False)

    # -- implementation ------------------------------------------------------------------

    def _create(
        self,
        actor: Actor,
        username: str,
        display_name: str,
        home_tenant_code: str,
        password: str | None,
        email: str | None,
        *,
        checked: bool,
    ) -> UserInfo:
        check_username(username)
        display_name = check_display_name(display_name)
        email = check_email(email)
        if password is not None:
            check_password_policy(password, username=username)
        with self._db.platform() as session, session.begin():
            tenant = tenant_by_code(session, home_tenant_code)
            if checked:
                self._authz.require_in(session, str(actor), tenant.id or 0, USERS_MANAGE)
            holder = session.scalar(select(User.home_tenant_id).where(User.username == username))
            if holder is not None:
                visible = not checked or self._sees_users_at(session, actor, holder)
                raise taken(username) if visible else unavailable(username)
            row = User(
                username=username,
                display_name=display_name,
                email=email,
                home_tenant_id=tenant.id or 0,
                password_hash=self._passwords.hash(password) if password is not None else None,
            )
            session.add(row)
            try:
                session.flush()
            except SAIntegrityError as exc:  # a concurrent create of the same name won the race
                raise (unavailable(username) if checked else taken(username)) from exc
            detail = {"user_id": row.id, "display_name": display_name, "with_password": password is not None}
            self._audit.append(
                session, tenant_id=tenant.id or 0, actor=actor, action="user.create", target=username, detail=detail
            )
            return UserInfo.of(row)

    def _set_password(self, actor: Actor, username: str, password: str, *, checked: bool) -> UserInfo:
        check_password_policy(password, username=username)
        with self._db.platform() as session, session.begin():
            row = user_by_name(session, username)
            if checked:
                self._require_manage(session, actor, row, "user.set_password")
            row.password_hash, row.updated_at = self._passwords.hash(password), now()
            ended = revoke_all_for_user(session, row.id or 0)
            self._audit.append(
                session,
                tenant_id=row.home_tenant_id,
                actor=actor,
                action="user.set_password",
                target=username,
                detail={"user_id": row.id, "sessions_revoked": ended},
            )
            return UserInfo.of(row)

    def _set_status(self, actor: Actor, username: str, status: str, reason: str, *, checked: bool) -> UserInfo:
        with self._db.platform() as session, session.begin():
            row = user_by_name(session, username)
            if checked:
                self._require_manage(session, actor, row, "user.disable" if status == DISABLED else "user.enable")
            if row.status == status:
                raise Conflict(f"user {username!r} is already {status}", code="user.unchanged")
            row.status, row.updated_at = status, now()
            detail: dict[str, object] = {"user_id": row.id}
            if status == DISABLED:
                detail["sessions_revoked"] = revoke_all_for_user(session, row.id or 0)
            if reason:
                detail["reason"] = reason
            action = "user.disable" if status == DISABLED else "user.enable"
            self._audit.append(
                session, tenant_id=row.home_tenant_id, actor=actor, action=action, target=username, detail=detail
            )
            return UserInfo.of(row)

    def _link_oidc(self, actor: Actor, username: str, issuer: str, subject: str, *, checked: bool) -> UserInfo:
        issuer, subject = check_oidc_account(issuer, subject)
        with self._db.platform() as session, session.begin():
            row = user_by_name(session, username)
            if checked:
                self._require_manage(session, actor, row, "user.link_oidc")
            if (row.oidc_issuer, row.oidc_subject) == (issuer, subject):
                raise Conflict(f"user {username!r} is already linked to that account", code="user.unchanged")
            holder = session.scalar(select(User.id).where(User.oidc_issuer == issuer, User.oidc_subject == subject))
            if holder is not None:
                raise oidc_taken(issuer)
            detail: dict[str, object] = {"user_id": row.id, "issuer": issuer, "subject": subject}
            if row.oidc_issuer is not None:
                detail["replaced"] = {"issuer": row.oidc_issuer, "subject": row.oidc_subject}
            row.oidc_issuer, row.oidc_subject, row.updated_at = issuer, subject, now()
            try:
                session.flush()
            except SAIntegrityError as exc:  # a concurrent link of the same account won the race
                raise oidc_taken(issuer) from exc
            self._audit.append(
                session,
                tenant_id=row.home_tenant_id,
                actor=actor,
                action="user.link_oidc",
                target=username,
                detail=detail,
            )
            return UserInfo.of(row)

    def audit_out_of_reach(self, actor: Actor, user: UserInfo, attempted: str) -> None:
        """Record an attempt on a user the actor may not even see (answered as an unknown name),
        in the user's home tenant and the actor's, throttled (blocking: call from a worker thread)."""
        self._refusals.record(
            actor=actor,
            tenant_ids=(user.home_tenant_id,),
            action="user.refused",
            target=user.username,
            code="user.not_found",
            detail={"attempted": attempted, "reason": "the user is outside the actor's reach"},
        )

    def _sees_users_at(self, session: Session, actor: Actor, tenant_id: int) -> bool:
        held = self._authz.permissions_in(session, str(actor), tenant_id)
        return USERS_READ in held or USERS_MANAGE in held

    def _require_manage(self, session: Session, actor: Actor, row: User, attempted: str) -> None:
        """kernel.users.manage at the user's home AND at every tenant where the user holds a grant.

        Authority over the home alone is not enough: a commune administrator could otherwise reset
        the password of a central administrator homed at that commune and sign in as them. A refusal
        is audited, after the refused transaction, in every tenant concerned.
        """
        principal = f"user:{row.id}"
        granted = session.scalars(select(Grant.tenant_id).where(Grant.principal == principal))
        concerned = sorted({row.home_tenant_id, *granted})
        lacking = [t for t in concerned if USERS_MANAGE not in self._authz.permissions_in(session, str(actor), t)]
        if not lacking:
            return
        home = session.get(Tenant, row.home_tenant_id)
        home_code = home.code if home is not None else "?"
        if row.home_tenant_id in lacking:
            why = f"at its home tenant {home_code!r}"
        else:  # the other tenants are not named: the actor may not see the user's grants there
            why = f"at a tenant beyond its home {home_code!r} where the user holds a role"
        refusal = PermissionDenied(
            f"{actor} may not {USERS_MANAGE!r} for user {row.username!r} {why}; an administrator with that "
            "permission at every tenant where the user holds a role must do this",
            code="permission.denied",
        )
        mark_audited(refusal)
        record = partial(
            self._refusals.record,
            actor=actor,
            tenant_ids=tuple(concerned),
            action="user.refused",
            target=row.username,
            code=refusal.code,
            detail={"attempted": attempted, "reason": refusal.message},
        )
        run_after_transaction(session, record)
        raise refusal


def require_operator(actor: Actor) -> None:
    """Operator paths skip the permission check, so only the server's operators may take them."""
    if actor.kind not in OPERATOR_KINDS:
        raise PermissionDenied(
            f"{actor} cannot use an operator path; users and tokens act through the permission-checked methods",
            code="permission.operator_only",
        )


def tenant_by_code(session: Session, code: str) -> Tenant:
    row = session.scalar(select(Tenant).where(Tenant.code == code))
    if row is None:
        raise TenantNotFound(f"no tenant with code {code!r}")
    return row
