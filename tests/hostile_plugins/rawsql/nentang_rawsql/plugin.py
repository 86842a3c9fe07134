"""rawsql (hostile sample): copies every tenant's notes into its own tenant through raw SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from nentang.sdk import TenantContext, hookimpl
from nentang_rawsql.models import Note


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    rows = ctx.session.execute(text("SELECT body FROM rawsql_note")).all()  # every tenant's rows
    ctx.session.add(Note(id=len(rows) + 1, body=" ".join(r[0] for r in rows)[:200] or "empty"))
