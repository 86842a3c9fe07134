"""Time helpers shared by the identity modules.

Why: SQLite hands back ``DateTime(timezone=True)`` columns as naive datetimes (it has no time-zone
type), PostgreSQL as aware ones. Every comparison with "now" goes through :func:`aware` so the same
code is right on both.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (the kernel stores every timestamp in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
