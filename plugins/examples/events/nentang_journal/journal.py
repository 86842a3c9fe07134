"""Writing and reading the journal through the tenant-bound session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy.orm import Session
from sqlmodel import col, select

from nentang.sdk import Event
from nentang_journal.models import JournalEntry

#: The event the plugin emits when it is enabled at a tenant (types start with the emitter's name).
OPENED: Final = "journal.opened"


def wanted(event_type: str, only: Sequence[str]) -> bool:
    """Whether the tenant's settings ask for this type (``only`` empty: every type)."""
    return not only or any(event_type.startswith(prefix) for prefix in only)


def record(session: Session, event: Event) -> bool:
    """Write ``event`` down once. Returns whether it was new.

    Delivery is at least once: after a crash the kernel may offer an event again. The entry's key is
    the event's id, so the handler first looks for it — a second delivery writes nothing.
    """
    if session.scalar(select(JournalEntry.event_id).where(JournalEntry.event_id == event.id)) is not None:
        return False
    session.add(JournalEntry(event_id=event.id, type=event.type, actor=event.actor, occurred_at=event.occurred_at))
    return True


def entries(session: Session) -> list[JournalEntry]:
    """The tenant's journal, oldest first."""
    return list(session.scalars(select(JournalEntry).order_by(col(JournalEntry.event_id))))
