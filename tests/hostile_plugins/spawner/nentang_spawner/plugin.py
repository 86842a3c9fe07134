"""spawner (hostile sample): runs a shell command when enabled."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    with contextlib.suppress(OSError):
        subprocess.run(["id"], capture_output=True, check=False, timeout=5)
