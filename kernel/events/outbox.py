"""Emitting events into the outbox, inside the caller's transaction.

An event exists only if the caller's transaction commits. Its id orders it within its tenant,
so the ids of one tenant's events must follow the order in which their transactions commit:

- on PostgreSQL, :func:`emit` first locks the tenant's row (``FOR NO KEY UPDATE``, which does not
  block foreign-key checks against it), so transactions that emit for the same tenant serialise
  from their first emit to their commit, and a later id can never become visible before an
  earlier one. Emit late in a long transaction; transactions of different tenants never wait;
- on SQLite one transaction writes at a time, so ids follow commit order already.

A committed emit also wakes this worker's event runner at once (:data:`WAKE_TOPIC`); other
workers find the event at their next poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from nentang.kernel.data.database import record_change
from nentang.kernel.events.models import OutboxEvent
from nentang.sdk.errors import ValidationFailed
from nentang.sdk.events import check_event_type

#: An event's payload is a notification, not a document store.
MAX_PAYLOAD_BYTES = 64 * 1024
#: The change noted on commit so that the worker's runner wakes (not a versioned topic: version 0).
WAKE_TOPIC: Final = "events"

_LOCK_TENANT = text("SELECT id FROM kernel_tenant WHERE id = :tenant_id FOR NO KEY UPDATE")


def emit(
    session: Session, *, tenant_id: int, event_type: str, payload: Mapping[str, Any] | None, actor: str
) -> OutboxEvent:
    """Queue an event; it exists only if the caller's transaction commits.

    :raises ValidationFailed: ``event.bad_type``, ``event.payload`` (not a JSON object) or
        ``event.payload_too_large``; nothing is written.
    """
    check_event_type(event_type)
    body = _canonical(event_type, payload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_TENANT, {"tenant_id": tenant_id})
    row = OutboxEvent(tenant_id=tenant_id, type=event_type, payload=body, actor=actor)
    session.add(row)
    session.flush()
    record_change(session, (WAKE_TOPIC, 0, str(tenant_id)))
    return row


def _canonical(event_type: str, payload: Mapping[str, Any] | None) -> str:
    if payload is not None and not isinstance(payload, Mapping):
        raise ValidationFailed(
            f"event {event_type!r}: the payload must be a mapping (a JSON object), not {type(payload).__name__}",
            code="event.payload",
        )
    try:
        body = json.dumps(
            dict(payload or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"event {event_type!r}: payload is not JSON-serialisable ({exc})", code="event.payload"
        ) from exc
    size = len(body.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationFailed(
            f"event {event_type!r}: payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} "
            "(send a reference to the data, not the data)",
            code="event.payload_too_large",
        )
    return body
