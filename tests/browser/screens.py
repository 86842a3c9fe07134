"""Screenshots of the pages the browser tests visit, for people (the README, the docs, a review).

They go under ``var/screenshots/`` (``var/`` is not committed); a test run overwrites them.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The page as shown now, in ``var/screenshots/<name>.png``; returns the path."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: lower-case letters, digits and hyphens only")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
