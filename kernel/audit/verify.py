"""Verifying audit chains: report the first broken link of each tenant's log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

from sqlalchemy import select

from nentang.kernel.audit.models import GENESIS_HASH, AuditEntry, AuditHead, entry_hash
from nentang.kernel.data.database import Database


@final
@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant_id: int
    #: Entries read before the first problem (all of them when ``ok``).
    checked: int
    #: ``None`` when the chain is intact; else the sequence number of the first broken entry.
    broken_seq: int | None = None
    #: Why that entry breaks the chain.
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chains(db: Database, tenant_ids: Iterable[int]) -> list[ChainReport]:
    """Check each tenant's chain; entries are read in pages so a long log is not held in memory."""
    return [_verify_one(db, tenant_id) for tenant_id in tenant_ids]


def _verify_one(db: Database, tenant_id: int, page: int = 1000) -> ChainReport:
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    with db.tenant(tenant_id) as session:
        head = session.get(AuditHead, (tenant_id,))
        last_seq = 0
        while True:
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(page)
            ).all()
            if not rows:
                break
            for entry in rows:
                problem = _check(entry, expected_seq, prev_hash)
                if problem:
                    return ChainReport(tenant_id, checked, expected_seq, problem)
                checked += 1
                expected_seq, prev_hash, last_seq = entry.seq + 1, entry.hash, entry.seq
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        if head_seq != checked or head_hash != prev_hash:
            return ChainReport(
                tenant_id,
                checked,
                checked + 1,
                f"the log ends at entry {checked} but its head records entry {head_seq}: "
                "entries after the last one shown were deleted, or the head was altered",
            )
    return ChainReport(tenant_id, checked)


def _check(entry: AuditEntry, expected_seq: int, prev_hash: str) -> str:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (next entry present is {entry.seq}): it was deleted"
    if entry.prev_hash != prev_hash:
        return f"entry {entry.seq} does not point at the hash of entry {entry.seq - 1}: an entry was replaced"
    recomputed = entry_hash(
        tenant_id=entry.tenant_id or 0,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        detail=entry.detail,
        prev_hash=entry.prev_hash,
    )
    if recomputed != entry.hash:
        return f"entry {entry.seq} was altered after it was written (its content no longer matches its hash)"
    return ""
