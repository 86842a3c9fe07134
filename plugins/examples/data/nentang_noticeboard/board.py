"""Reading and writing notices. Every function takes the tenant-bound ``ctx.session``: its queries
see only the tenant's rows, and the rows it adds get the tenant's id — no ``tenant_id`` here."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlmodel import col, func, select

from nentang.sdk import ValidationFailed
from nentang_noticeboard.models import Notice


def post(session: Session, *, title: str, posted_by: str, body: str = "") -> Notice:
    """Add a notice to the tenant's board (committed with the caller's transaction)."""
    title = title.strip()
    if not title:
        raise ValidationFailed("noticeboard: a notice needs a title", code="noticeboard.title_missing")
    notice = Notice(title=title[:200], body=body[:2000], posted_by=posted_by)
    session.add(notice)
    session.flush()
    return notice


def latest(session: Session, limit: int = 10) -> list[Notice]:
    """The tenant's newest notices first."""
    query = select(Notice).order_by(col(Notice.posted_at).desc(), col(Notice.id)).limit(limit)
    return list(session.scalars(query))


def count(session: Session) -> int:
    """How many notices the tenant has."""
    return int(session.scalar(select(func.count()).select_from(Notice)) or 0)
