"""The feedback table: numbered per tenant ("phản ánh số 12"), so the number is also the cursor."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from nentang.sdk import TenantOwned


def _now() -> datetime:
    return datetime.now(UTC)


class FeedbackRecord(TenantOwned, table=True):
    __tablename__ = "feedback_item"

    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    text: str = Field(max_length=2000)
    submitted_by: str = Field(max_length=128)
    submitted_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
