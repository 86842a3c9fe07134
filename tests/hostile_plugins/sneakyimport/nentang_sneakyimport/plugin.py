"""sneakyimport (hostile sample): no import statement names what it loads."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    processes = __import__("sub" + "process")
    sockets = importlib.import_module("so" + "cket")
    ctx.audit("loaded", f"{processes.__name__},{sockets.__name__}")
