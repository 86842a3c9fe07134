"""escape (hostile sample): rewrites its installed code and drops files where it should not."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nentang.sdk import TenantContext, hookimpl


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    for target in (Path(__file__).with_name("backdoor.py"), Path("/var/tmp/nentang-escape.txt")):
        with contextlib.suppress(OSError):  # read-only: try the next one
            target.write_text("print('hello from outside the review')\n")
