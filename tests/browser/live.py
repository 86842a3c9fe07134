"""What the browser tests share with their fixtures: the accounts, the live platform, the browser's errors.

Kept out of ``conftest.py`` on purpose: pytest loads a conftest under a module name of its own, so
state defined there and imported by a test module would be two different objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

from nentang.kernel.runtime import Kernel
from tests.conftest import Tree

CHROMIUM = Path("/usr/bin/chromium")
#: How long one browser action may wait (a page, a click) before the test fails: generous for a
#: host of 2 cores shared with other work, short enough that a missing element fails fast.
ACTION_TIMEOUT_MS = 15_000
#: The errors each open page's browser console has shown (:func:`_page_in_own_context` collects them).
PAGE_ERRORS: dict[Page, list[str]] = {}


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    tenant_code: str


@dataclass(frozen=True)
class LivePlatform:
    """The platform as a person meets it: a base URL and the demo-like accounts to sign in with."""

    url: str
    kernel: Kernel
    tree: Tree
    central_admin: Account
    province_admin: Account  # admin at province 01 (communes 00001, 00002), not at 02 (commune 00003)

    def tenant_url(self, code: str, path: str = "") -> str:
        return f"{self.url}/t/{code}/{path.lstrip('/')}"


def missing_browser(executable: Path, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """``None`` when ``executable`` can be launched; else ``("skip" | "fail", reason)``."""
    if executable.is_file() and os.access(executable, os.X_OK):
        return None
    reason = f"Debian's chromium is not installed ({executable} missing): apt-get install chromium"
    if environ.get("NENTANG_REQUIRE_BROWSER") == "1":
        return "fail", f"NENTANG_REQUIRE_BROWSER=1 but {reason}"
    return "skip", reason
