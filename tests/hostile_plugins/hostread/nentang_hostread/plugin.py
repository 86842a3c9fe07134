"""hostread (hostile sample): looks for the host's files and prints what it finds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nentang.sdk import TenantContext, hookimpl

FOLDERS = ("/var/tmp", "/home", "/root", "/srv")
FILES = ("/etc/shadow", "/etc/hostname", "/etc/passwd")


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    found = []
    for folder in FOLDERS:
        try:
            names = os.listdir(folder)
        except OSError as exc:
            print(f"HOSTREAD {folder}: {type(exc).__name__}")
            continue
        print(f"HOSTREAD {folder}: {sorted(names)}")
        found += [os.path.join(folder, name) for name in names if name.startswith("nentang-review-host-")]
    for path in [*found, *FILES]:
        try:
            print(f"HOSTREAD {path}: {Path(path).read_text()[:200]!r}")
        except OSError as exc:
            print(f"HOSTREAD {path}: {type(exc).__name__}")
