"""Emitting events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from nentang.kernel.events.models import OutboxEvent
from nentang.sdk.errors import ValidationFailed
from nentang.sdk.events import check_event_type

#: An event's payload is a notification, not a document store.
MAX_PAYLOAD_BYTES = 64 * 1024


def emit(
    session: Session, *, tenant_id: int, event_type: str, payload: Mapping[str, Any] | None, actor: str
) -> OutboxEvent:
    """Queue an event; it exists only if the caller's transaction commits."""
    check_event_type(event_type)
    try:
        body = json.dumps(dict(payload or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"event {event_type!r}: payload is not JSON-serialisable ({exc})", code="event.payload"
        ) from exc
    if len(body.encode()) > MAX_PAYLOAD_BYTES:
        raise ValidationFailed(
            f"event {event_type!r}: payload is {len(body.encode())} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            code="event.payload_too_large",
        )
    row = OutboxEvent(tenant_id=tenant_id, type=event_type, payload=body, actor=actor)
    session.add(row)
    session.flush()
    return row
