"""Tenant operations: provision, rename, move, suspend, and read the tree.

Each write is one transaction that also appends the act to the tenant's audit log, so the
change and its record commit together or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import final

import sqlalchemy as sa
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.events.outbox import emit
from nentang.kernel.identity.actor import Actor
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.tenancy.models import (
    ALLOWED_PARENTS,
    Tenant,
    TenantKind,
    TenantStatus,
    path_ids,
    subtree_upper_bound,
    utcnow,
)
from nentang.sdk.errors import TenantCodeTaken, TenantNotFound, TenantRuleViolated, ValidationFailed

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@final
@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A read-only snapshot of a tenant, safe to hand out after its session closed."""

    id: int
    code: str
    name: str
    kind: TenantKind
    division_type: str | None
    parent_id: int | None
    path: str
    depth: int
    status: TenantStatus
    created_at: datetime
    updated_at: datetime

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent (no query needed)."""
        return path_ids(self.path)[:-1]

    @classmethod
    def of(cls, row: Tenant) -> TenantInfo:
        return cls(
            id=row.id or 0,
            code=row.code,
            name=row.name,
            kind=TenantKind(row.kind),
            division_type=row.division_type,
            parent_id=row.parent_id,
            path=row.path,
            depth=row.depth,
            status=TenantStatus(row.status),
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
        )


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the tree only ever stores UTC, so say so on every database.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@final
class TenantService:
    __slots__ = ("_audit", "_db")

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    # -- reads ---------------------------------------------------------------------------

    def get(self, code: str) -> TenantInfo:
        with self._db.platform() as session:
            return TenantInfo.of(_by_code(session, code))

    def get_by_id(self, tenant_id: int) -> TenantInfo:
        with self._db.platform() as session:
            row = session.get(Tenant, tenant_id)
            if row is None:
                raise TenantNotFound(f"no tenant with id {tenant_id}")
            return TenantInfo.of(row)

    def children(self, code: str) -> list[TenantInfo]:
        with self._db.platform() as session:
            parent = _by_code(session, code)
            rows = session.scalars(select(Tenant).where(Tenant.parent_id == parent.id).order_by(Tenant.code))
            return [TenantInfo.of(r) for r in rows]

    def subtree(self, code: str) -> list[TenantInfo]:
        """The tenant and everything below it, parents before children."""
        with self._db.platform() as session:
            root = _by_code(session, code)
            return [TenantInfo.of(r) for r in session.scalars(_subtree_query(root.path))]

    def subtree_ids(self, tenant_id: int) -> frozenset[int]:
        with self._db.platform() as session:
            root = session.get(Tenant, tenant_id)
            if root is None:
                raise TenantNotFound(f"no tenant with id {tenant_id}")
            upper = subtree_upper_bound(root.path)
            ids = session.scalars(select(Tenant.id).where(Tenant.path >= root.path, Tenant.path < upper))
            return frozenset(i for i in ids if i is not None)

    def ancestors(self, code: str) -> list[TenantInfo]:
        """From the root down to the tenant's parent: one indexed query on the path's ids."""
        with self._db.platform() as session:
            tenant = _by_code(session, code)
            ids = path_ids(tenant.path)[:-1]
            rows = {r.id: r for r in session.scalars(select(Tenant).where(Tenant.id.in_(ids)))}
            return [TenantInfo.of(rows[i]) for i in ids]

    def list(self, *, kind: TenantKind | None = None, limit: int = 100, after_code: str = "") -> list[TenantInfo]:
        if limit < 1 or limit > 1000:
            raise ValidationFailed(f"limit must be between 1 and 1000, not {limit}")
        with self._db.platform() as session:
            query = select(Tenant).where(Tenant.code > after_code).order_by(Tenant.code).limit(limit)
            if kind is not None:
                query = query.where(Tenant.kind == kind)
            return [TenantInfo.of(r) for r in session.scalars(query)]

    def codes_by_id(self) -> dict[int, str]:
        """Every tenant's code by id, in tree order (for whole-platform maintenance commands)."""
        with self._db.platform() as session:
            rows = session.execute(select(Tenant.id, Tenant.code).order_by(Tenant.path))
            return {tenant_id: code for tenant_id, code in rows if tenant_id is not None}

    def count(self) -> int:
        with self._db.platform() as session:
            return session.scalar(select(func.count()).select_from(Tenant)) or 0

    def is_serving(self, tenant: TenantInfo) -> bool:
        """Active, and every ancestor active too (suspending a province pauses its communes)."""
        if tenant.status != TenantStatus.ACTIVE:
            return False
        ids = tenant.ancestor_ids
        if not ids:
            return True
        with self._db.platform() as session:
            suspended = session.scalar(
                select(func.count()).where(Tenant.id.in_(ids), Tenant.status != TenantStatus.ACTIVE)
            )
        return not suspended

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        *,
        code: str,
        name: str,
        kind: TenantKind | str,
        parent_code: str | None,
        actor: Actor,
        division_type: str | None = None,
    ) -> TenantInfo:
        """Provision a tenant. It serves at once: nothing else needs to happen first."""
        with self._db.platform() as session, session.begin():
            return self.create_in(
                session,
                code=code,
                name=name,
                kind=kind,
                parent_code=parent_code,
                actor=actor,
                division_type=division_type,
            )

    def create_in(
        self,
        session: Session,
        *,
        code: str,
        name: str,
        kind: TenantKind | str,
        parent_code: str | None,
        actor: Actor,
        division_type: str | None = None,
    ) -> TenantInfo:
        """:meth:`create` inside the caller's platform-session transaction, for kernel services that
        provision several tenants atomically (the national seed); the caller commits or rolls back."""
        kind = _parse_kind(kind)
        _check_code(code)
        name = _check_name(name)
        _check_division_type(division_type)
        parent = _by_code(session, parent_code) if parent_code is not None else None
        _check_parent(kind, parent, code)
        if kind == TenantKind.CENTRAL and session.scalar(select(Tenant.id).where(Tenant.parent_id.is_(None))):
            raise TenantRuleViolated("the tree already has its central tenant; there is only one root")
        if session.scalar(select(Tenant.id).where(Tenant.code == code)) is not None:
            raise TenantCodeTaken(f"a tenant with code {code!r} already exists; codes are unique")
        row = Tenant(
            code=code,
            name=name,
            kind=kind,
            division_type=division_type,
            parent_id=parent.id if parent else None,
            path="/",
            depth=(parent.depth + 1) if parent else 0,
        )
        session.add(row)
        try:
            session.flush()
        except SAIntegrityError as exc:
            raise TenantCodeTaken(f"a tenant with code {code!r} already exists; codes are unique") from exc
        row.path = f"{parent.path if parent else '/'}{row.id}/"
        session.flush()
        bump(session, topics.TENANCY, str(row.id))
        detail = {"name": name, "kind": kind.value, "parent": parent.code if parent else None}
        self._audit.append(
            session, tenant_id=row.id or 0, actor=actor, action="tenant.create", target=code, detail=detail
        )
        created = {"code": code, **detail}
        emit(session, tenant_id=row.id or 0, event_type="kernel.tenant.created", payload=created, actor=str(actor))
        return TenantInfo.of(row)

    def rename(self, code: str, new_name: str, *, actor: Actor) -> TenantInfo:
        new_name = _check_name(new_name)
        with self._db.platform() as session, session.begin():
            row = _by_code(session, code)
            old_name = row.name
            row.name, row.updated_at = new_name, utcnow()
            bump(session, topics.TENANCY, str(row.id))
            self._audit.append(
                session,
                tenant_id=row.id or 0,
                actor=actor,
                action="tenant.rename",
                target=code,
                detail={"from": old_name, "to": new_name},
            )
            return TenantInfo.of(row)

    def move(self, code: str, new_parent_code: str, *, actor: Actor) -> TenantInfo:
        """Re-parent a tenant with its whole subtree: one UPDATE rewrites every path below it."""
        with self._db.platform() as session, session.begin():
            row = _by_code(session, code)
            new_parent = _by_code(session, new_parent_code)
            if new_parent.path.startswith(row.path):
                raise TenantRuleViolated(
                    f"cannot move {code!r} under {new_parent_code!r}: "
                    f"{new_parent_code!r} is {'the tenant itself' if new_parent.id == row.id else 'below it'}, "
                    "which would make a cycle"
                )
            _check_parent(TenantKind(row.kind), new_parent, code)
            old_parent_id = row.parent_id
            old_path, new_path = row.path, f"{new_parent.path}{row.id}/"
            depth_delta = (new_parent.depth + 1) - row.depth
            session.execute(
                update(Tenant)
                .where(Tenant.path >= old_path, Tenant.path < subtree_upper_bound(old_path))
                .values(
                    path=sa.literal(new_path, sa.String) + func.substr(Tenant.path, len(old_path) + 1, type_=sa.String),
                    depth=Tenant.depth + depth_delta,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(update(Tenant).where(Tenant.id == row.id).values(parent_id=new_parent.id))
            bump(session, topics.TENANCY)
            session.expire_all()
            old_parent = session.get(Tenant, old_parent_id) if old_parent_id else None
            self._audit.append(
                session,
                tenant_id=row.id or 0,
                actor=actor,
                action="tenant.move",
                target=code,
                detail={"from": old_parent.code if old_parent else None, "to": new_parent.code},
            )
            return TenantInfo.of(_by_code(session, code))

    def suspend(self, code: str, *, actor: Actor, reason: str = "") -> TenantInfo:
        return self._set_status(code, TenantStatus.SUSPENDED, actor=actor, reason=reason)

    def reactivate(self, code: str, *, actor: Actor) -> TenantInfo:
        return self._set_status(code, TenantStatus.ACTIVE, actor=actor, reason="")

    def _set_status(self, code: str, status: TenantStatus, *, actor: Actor, reason: str) -> TenantInfo:
        with self._db.platform() as session, session.begin():
            row = _by_code(session, code)
            if row.status == status:
                raise TenantRuleViolated(f"tenant {code!r} is already {status.value}")
            row.status, row.updated_at = status, utcnow()
            bump(session, topics.TENANCY, str(row.id))  # every worker re-reads who serves
            action = "tenant.suspend" if status == TenantStatus.SUSPENDED else "tenant.reactivate"
            detail = {"reason": reason} if reason else {}
            self._audit.append(session, tenant_id=row.id or 0, actor=actor, action=action, target=code, detail=detail)
            return TenantInfo.of(row)


def _by_code(session: Session, code: str | None) -> Tenant:
    row = session.scalar(select(Tenant).where(Tenant.code == code)) if code else None
    if row is None:
        raise TenantNotFound(f"no tenant with code {code!r}")
    return row


def _subtree_query(path: str):  # type: ignore[no-untyped-def]
    upper = subtree_upper_bound(path)
    return select(Tenant).where(Tenant.path >= path, Tenant.path < upper).order_by(Tenant.depth, Tenant.code)


def _parse_kind(kind: TenantKind | str) -> TenantKind:
    try:
        return TenantKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in TenantKind)
        raise ValidationFailed(f"unknown tenant kind {kind!r}; use one of: {allowed}") from None


def _check_code(code: str) -> None:
    if not _CODE.fullmatch(code or ""):
        raise ValidationFailed(
            f"tenant code {code!r} is not valid: 1-32 characters, letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ValidationFailed("tenant name must be 1-255 characters")
    return name


def _check_division_type(division_type: str | None) -> None:
    if division_type is not None and len(division_type) > 64:
        raise ValidationFailed(f"division type {division_type[:20]!r}... is too long: at most 64 characters")


def _check_parent(kind: TenantKind, parent: Tenant | None, code: str) -> None:
    parent_kind = TenantKind(parent.kind) if parent else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        where = f"under {parent.code!r} ({parent_kind})" if parent else "at the root"
        allowed = sorted(k.value if k else "the root" for k in ALLOWED_PARENTS[kind])
        raise TenantRuleViolated(
            f"a {kind.value} tenant ({code!r}) cannot be placed {where}; allowed parents: {', '.join(allowed)}"
        )
