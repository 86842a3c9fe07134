"""Hook implementations of goodnotes: everything through the tenant-bound context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import select

from nentang.sdk import Event, TenantContext, hookimpl
from nentang_goodnotes.logic import next_id, note_text
from nentang_goodnotes.models import Note


def _add(ctx: TenantContext, body: str) -> None:
    ids = list(ctx.session.scalars(select(Note.id)))
    ctx.session.add(Note(id=next_id(ids), body=body))


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    _add(ctx, note_text(str(settings.get("greeting", "Xin chào")), ctx.tenant.name))
    ctx.audit("enabled", ctx.tenant.code)


@hookimpl
def nentang_plugin_disable(ctx: TenantContext) -> None:
    ctx.audit("disabled", ctx.tenant.code)


@hookimpl
def nentang_event_received(ctx: TenantContext, event: Event) -> None:
    if event.type.startswith("review.") and ctx.has_permission("goodnotes.write"):
        _add(ctx, f"event {event.type}")
