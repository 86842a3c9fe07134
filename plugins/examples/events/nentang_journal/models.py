"""The journal table: one row per (tenant, event) — the event's id is part of the primary key, which
is what makes handling an event twice harmless."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime
from sqlmodel import Field

from nentang.sdk import TenantOwned


class JournalEntry(TenantOwned, table=True):
    __tablename__ = "journal_entry"

    #: The outbox id of the event (unique and increasing per tenant).
    event_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    type: str = Field(max_length=128)
    actor: str = Field(max_length=128)
    occurred_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
