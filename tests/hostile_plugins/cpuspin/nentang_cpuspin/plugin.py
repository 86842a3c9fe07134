"""cpuspin (hostile sample): an event handler that never returns, burning CPU."""

from __future__ import annotations

from nentang.sdk import Event, TenantContext, hookimpl


@hookimpl
def nentang_event_received(ctx: TenantContext, event: Event) -> None:
    spins = 0
    while event.id >= 0:
        spins += 1
