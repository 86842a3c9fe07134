"""Pure functions, tested by the plugin's own tests."""

from __future__ import annotations


def note_text(greeting: str, tenant_name: str) -> str:
    return f"{greeting}, {tenant_name}"[:200]


def next_id(existing: list[int]) -> int:
    return max(existing, default=0) + 1
