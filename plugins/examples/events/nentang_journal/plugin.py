"""The hook implementations of journal."""

from __future__ import annotations

from nentang.sdk import Event, TenantContext, hookimpl
from nentang_journal import journal


@hookimpl
def nentang_plugin_enable(ctx: TenantContext) -> None:
    """Announce that the tenant's journal is open.

    ``ctx.emit`` writes the event in the enabling transaction (the outbox): it exists only if the
    enable commits, and is delivered after the commit — to this plugin too, so it is the journal's
    first line.
    """
    ctx.emit(journal.OPENED, {"by": ctx.actor})


@hookimpl
def nentang_event_received(ctx: TenantContext, event: Event) -> None:
    """Write the event down, once, if the tenant's settings ask for its type.

    Called only for tenants where journal is enabled, after the emitting transaction committed;
    ``ctx.session`` is a transaction of its own. Never raise for an event you do not handle:
    ignore it (an exception counts against the plugin's error budget and the event is retried).
    """
    if journal.wanted(event.type, ctx.settings.get("only") or ()):
        journal.record(ctx.session, event)
