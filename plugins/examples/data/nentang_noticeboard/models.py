"""The plugin's table. Its name starts with the plugin's name (``noticeboard_``), as every table of
a plugin must; ``TenantOwned`` adds ``tenant_id`` as the first column of the primary key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from nentang.sdk import TenantOwned


def _now() -> datetime:
    return datetime.now(UTC)


class Notice(TenantOwned, table=True):
    """One notice of one tenant. Code never sets ``tenant_id``: the tenant-bound session does."""

    __tablename__ = "noticeboard_notice"

    # a random id: no counter to share between workers, and (tenant_id, id) shards by tenant
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    posted_by: str = Field(max_length=128)
    posted_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
