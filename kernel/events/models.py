"""The outbox: one row per emitted event, committed (or not) with the change that caused it;
and, while an event is being delivered, which plugins have already handled it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

TIMESTAMP = sa.DateTime(timezone=True)


def utcnow() -> datetime:
    # not nentang.kernel.tenancy's: that package imports this one (tenants emit events)
    return datetime.now(UTC)


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
    #: Every plugin enabled for the tenant has handled it (or was quarantined there meanwhile).
    delivered: bool = False
    #: Delivery rounds finished so far (a round that had a plugin failure counts too).
    attempts: int = 0
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    #: The failures of the last round that had any ("plugin: Type: message"), for administrators.
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    #: After a failed round: not offered again before this time (the tenant's later events wait).
    retry_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class EventDelivery(SQLModel, table=True):
    """A plugin has handled a not yet completed event: written in the plugin's own hook
    transaction, so a retry (or a resume after a crash) skips it. Deleted when the event completes."""

    __tablename__ = "kernel_event_delivery"

    event_id: int = Field(
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa_column_args=[sa.ForeignKey("kernel_event.id", ondelete="CASCADE")],
    )
    plugin: str = Field(primary_key=True, max_length=40)
    delivered_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
