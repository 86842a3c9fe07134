"""Handling text that came from the identity provider or the browser: compared in constant time, echoed safely.

Shared by the code flow, the provider's documents and the ID-token checks, all of which put values
they do not trust into comparisons and error messages.
"""

from __future__ import annotations

import hmac
from typing import Final

_MAX_ECHOED_CHARS: Final = 200


def same_secret(received: object, expected: str) -> bool:
    """Constant-time equality of a received secret-ish value with the one we keep."""
    return isinstance(received, str) and hmac.compare_digest(received.encode(), expected.encode())


def echo(value: str | None) -> str:
    """Provider- or attacker-supplied text, made safe to put in a message: printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= _MAX_ECHOED_CHARS else text[:_MAX_ECHOED_CHARS] + "…"
