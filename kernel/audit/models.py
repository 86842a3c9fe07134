"""Audit tables: the entries, and a head row per tenant that serialises appends."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from nentang.sdk.tables import TenantOwned

#: ``prev_hash`` of a tenant's first entry.
GENESIS_HASH = "0" * 64


class AuditEntry(TenantOwned, table=True):
    __tablename__ = "kernel_audit"
    #: Newest-first reading (``query.py``): one tenant's log, and a subtree's by time.
    __table_args__ = (
        sa.Index("ix_kernel_audit_tenant_at", "tenant_id", "at", "seq"),
        sa.Index("ix_kernel_audit_at", "at", "tenant_id", "seq"),
    )

    #: 1, 2, 3, ... per tenant, without gaps; a gap means a deleted entry.
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    #: Who acted, e.g. "user:42", "cli:root", "system:seed".
    actor: str = Field(max_length=128)
    #: What was done, "area.verb", e.g. "tenant.create".
    action: str = Field(max_length=64)
    #: What it was done to, e.g. a tenant code.
    target: str = Field(max_length=255)
    #: Canonical JSON of the act's details.
    detail: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(TenantOwned, table=True):
    """The last entry of a tenant's chain. Locking this row serialises appends per tenant, and
    comparing it with the entries detects a deleted tail."""

    __tablename__ = "kernel_audit_head"

    seq: int
    hash: str = Field(max_length=64)


def canonical_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    *, tenant_id: int, seq: int, at: datetime, actor: str, action: str, target: str, detail: str, prev_hash: str
) -> str:
    """The hash that chains an entry to the one before it."""
    body = json.dumps(
        [tenant_id, seq, _timestamp(at), actor, action, target, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _timestamp(at: datetime) -> str:
    # SQLite returns naive datetimes; the log only ever stores UTC, so hash the UTC wall time.
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")
