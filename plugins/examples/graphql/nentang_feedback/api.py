"""What the feedback plugin offers to code — its resolvers and the plugins that require it.

Everything takes the caller's tenant context or its tenant-bound session: the functions see one
tenant's rows only.
This module (with :data:`SUBMITTED`) is the plugin's published interface: other plugins use it, not
its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final, Protocol

from sqlalchemy.orm import Session
from sqlmodel import col, select

from nentang.sdk import TenantContext, ValidationFailed
from nentang_feedback.models import FeedbackRecord

#: The event emitted when feedback is recorded; its payload is ``{"number": n}``.
SUBMITTED: Final = "feedback.submitted"
#: Vietnam's time (UTC+7, no daylight saving): the day a resident submitted on.
VIETNAM: Final = timezone(timedelta(hours=7), "ICT")
DEFAULT_MAX_LENGTH: Final = 2000


def submit(ctx: TenantContext, *, text: str, max_length: int = DEFAULT_MAX_LENGTH) -> FeedbackRecord:
    """Record one piece of feedback from ``ctx.actor`` with the tenant's next number.

    The number comes from the SDK's per-tenant sequence (``ctx.next_number``): concurrent
    submissions at one commune each get their own, in order, with no gaps and no retries (reading
    ``max(number) + 1`` instead made one of two racing submissions fail).
    """
    text = text.strip()
    if not text:
        raise ValidationFailed("feedback: the text is empty", code="feedback.empty")
    if len(text) > max_length:
        raise ValidationFailed(
            f"feedback: the text has {len(text)} characters; this commune accepts at most {max_length}",
            code="feedback.too_long",
        )
    item = FeedbackRecord(number=ctx.next_number("feedback"), text=text, submitted_by=ctx.actor)
    ctx.session.add(item)
    ctx.session.flush()
    return item


class FeedbackRow(Protocol):
    """One item of a page, as read: the columns a page shows, not an entity to change."""

    number: int
    text: str
    submitted_at: datetime


# Built once: a page only adds its limit (and cursor) to it, which costs far less than building the
# whole statement per request.
_PAGE = select(FeedbackRecord.number, FeedbackRecord.text, FeedbackRecord.submitted_at).order_by(
    col(FeedbackRecord.number)
)


def page(session: Session, *, first: int, after: int | None = None) -> tuple[Sequence[FeedbackRow], bool]:
    """Up to ``first`` items numbered above ``after``, and whether more follow.

    The items are rows of the three columns a page shows, not entities: nothing to track or
    change, so they cost a fraction of loading ``FeedbackRecord`` objects.
    """
    query = _PAGE.limit(first + 1)
    if after is not None:
        query = query.where(col(FeedbackRecord.number) > after)
    rows: Sequence[FeedbackRow] = session.execute(query).all()
    return rows[:first], len(rows) > first


def counts_by_day(session: Session, *, since: date) -> dict[date, int]:
    """How many items were submitted on each day (Vietnam time) from ``since`` on."""
    start = datetime(since.year, since.month, since.day, tzinfo=VIETNAM)
    counts: dict[date, int] = {}
    for submitted_at in session.scalars(
        select(FeedbackRecord.submitted_at).where(col(FeedbackRecord.submitted_at) >= start)
    ):
        day = vietnam_day(submitted_at)
        counts[day] = counts.get(day, 0) + 1
    return counts


def vietnam_day(moment: datetime) -> date:
    """The day (Vietnam time) a stored moment falls on."""
    return _aware(moment).astimezone(VIETNAM).date()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the column stores UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
