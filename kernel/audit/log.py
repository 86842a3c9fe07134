"""Writing the audit log: one entry per administrative act, in the act's own transaction."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from nentang.kernel.audit.models import GENESIS_HASH, AuditEntry, AuditHead, canonical_detail, entry_hash
from nentang.kernel.data.scope import acting_for_tenant, scope_of
from nentang.kernel.identity.actor import Actor

# Built once (they are immutable, and building costs more Python than running them); the values
# go in as parameters. They name the mapped classes, so the scope guards still apply to them.
_READ_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.tenant_id == bindparam("tenant")).with_for_update()
_INSERT_ENTRY = insert(AuditEntry)
_INSERT_HEAD = insert(AuditHead)
_MOVE_HEAD = (
    update(AuditHead)
    .where(AuditHead.tenant_id == bindparam("tenant"))
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)


@final
class AuditLog:
    """Appends entries to a tenant's chain. Stateless: every call gets the caller's session, so
    the entry commits or rolls back together with the act it records."""

    __slots__ = ()

    def append(
        self,
        session: Session,
        *,
        tenant_id: int,
        actor: Actor,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Chain one entry onto ``tenant_id``'s log: three statements, whatever else the session holds.

        Locking the head row (``FOR UPDATE``) serialises two writers of one tenant's chain on
        PostgreSQL; SQLite has one writer at a time anyway. The entry and the head are written
        with plain ORM-enabled statements rather than through the unit of work, so an append
        costs no flush of unrelated objects. They still pass the scope guards: the statements
        name the mapped classes, and the session is bound to the tenant while they run.
        """
        scope = scope_of(session)
        elevate = acting_for_tenant(session, tenant_id) if scope.write != tenant_id else nullcontext()
        with elevate:
            head = session.execute(_READ_HEAD, {"tenant": tenant_id}).first()
            seq, prev_hash = (head.seq + 1, head.hash) if head is not None else (1, GENESIS_HASH)
            at = datetime.now(UTC)
            row = {
                "tenant_id": tenant_id,
                "seq": seq,
                "at": at,
                "actor": str(actor),
                "action": action,
                "target": target,
                "detail": canonical_detail(detail or {}),
                "prev_hash": prev_hash,
            }
            row["hash"] = entry_hash(**row)
            session.execute(_INSERT_ENTRY, [row])
            moved = {"seq": seq, "hash": row["hash"]}
            if head is None:
                session.execute(_INSERT_HEAD, [{"tenant_id": tenant_id, **moved}])
            else:
                session.execute(_MOVE_HEAD, {"tenant": tenant_id, **moved})
        return AuditEntry(**row)
