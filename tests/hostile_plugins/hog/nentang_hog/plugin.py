"""hog (hostile sample): allocates until something stops it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    chunks = []
    while True:
        chunks.append(bytearray(64 * 1024 * 1024))
