"""The outbox: one row per emitted event, committed (or not) with the change that caused it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from nentang.kernel.tenancy.models import utcnow

TIMESTAMP = sa.DateTime(timezone=True)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "kernel_event"
    __table_args__ = (sa.Index("ix_kernel_event_pending", "delivered", "tenant_id", "id"),)

    #: Increasing; delivery order within a tenant follows it.
    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    tenant_id: int = Field(foreign_key="kernel_tenant.id")
    #: Dotted type, e.g. "kernel.plugin.enabled", "forms.submitted".
    type: str = Field(max_length=128)
    #: Canonical JSON.
    payload: str = Field(sa_type=sa.Text)
    actor: str = Field(max_length=128)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    delivered: bool = False
    attempts: int = 0
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
