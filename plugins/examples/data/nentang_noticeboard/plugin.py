"""The hook implementations of noticeboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nentang.sdk import ConsolePage, TenantContext, hookimpl
from nentang_noticeboard import board, pages


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    """Open the board with a welcome notice — the first time only.

    ``ctx.session`` is the enabling transaction: if the enable fails later, the notice is rolled
    back with it. After a disable the notices are kept, so a re-enable finds them and adds none.
    """
    if board.count(ctx.session) == 0:
        title = str(settings.get("welcome") or f"Bảng tin của {ctx.tenant.name} đã mở")
        board.post(ctx.session, title=title, posted_by=ctx.actor)


@hookimpl
def nentang_http_console_pages() -> list[ConsolePage]:
    """The board's page in the console, where the plugin is enabled (see ``pages.py``)."""
    return pages.pages()
