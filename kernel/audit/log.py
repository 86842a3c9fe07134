"""Writing the audit log: one entry per administrative act, in the act's own transaction."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, final

from sqlalchemy.orm import Session

from nentang.kernel.audit.models import GENESIS_HASH, AuditEntry, AuditHead, canonical_detail, entry_hash
from nentang.kernel.data.scope import acting_for_tenant, scope_of
from nentang.kernel.identity.actor import Actor


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
        scope = scope_of(session)
        elevate = acting_for_tenant(session, tenant_id) if scope.write != tenant_id else nullcontext()
        with elevate:
            head = session.get(AuditHead, (tenant_id,), with_for_update=True)
            if head is None:
                head = AuditHead(tenant_id=tenant_id, seq=0, hash=GENESIS_HASH)
                session.add(head)
            entry = AuditEntry(
                tenant_id=tenant_id,
                seq=head.seq + 1,
                at=datetime.now(UTC),
                actor=str(actor),
                action=action,
                target=target,
                detail=canonical_detail(detail or {}),
                prev_hash=head.hash,
                hash="",
            )
            entry.hash = entry_hash(
                tenant_id=tenant_id,
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                detail=entry.detail,
                prev_hash=entry.prev_hash,
            )
            head.seq, head.hash = entry.seq, entry.hash
            session.add(entry)
            session.flush()
        return entry
