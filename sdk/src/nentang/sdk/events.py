"""Domain events: what plugins emit inside their transaction and receive through
:func:`nentang.sdk.hookspecs.nentang_event_received`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, final

from nentang.sdk.errors import ValidationFailed

_TYPE: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def check_event_type(event_type: str) -> str:
    """An event type is dotted and lower-case, starting with its emitter: ``forms.submitted``."""
    if not _TYPE.fullmatch(event_type or ""):
        raise ValidationFailed(
            f"event type {event_type!r} must be dotted lower-case words, starting with the emitter's name "
            "(e.g. 'forms.submitted')",
            code="event.bad_type",
        )
    return event_type


@final
@dataclass(frozen=True, slots=True)
class Event:
    """One delivered event. ``id`` is unique and increasing per tenant; delivery is at least once,
    so a handler that must not act twice remembers the ids it has handled."""

    #: The event's id in the outbox.
    id: int
    #: Dotted type, e.g. "kernel.tenant.created", "forms.submitted".
    type: str
    #: Id of the tenant where it happened.
    tenant_id: int
    #: JSON-compatible details.
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: Who caused it ("user:12", "system:seed").
    actor: str = ""
    #: When it was emitted (UTC).
    occurred_at: datetime | None = None
