"""Fixtures of the browser tests: one chromium per session, a fresh platform and a page per test.

The browser is the binary Debian's ``chromium`` package installs, launched through
``executable_path``; Playwright's own browser builds are never used (``playwright install`` is
never run). Without it the tests skip with the reason, unless ``NENTANG_REQUIRE_BROWSER=1``
(``.ci/run`` sets it), where they fail: CI must not pass by skipping them.

Each test gets the suite's database (SQLite, or PostgreSQL under ``NENTANG_DATABASE_URL``), the
small tree of ``tests/conftest.py``, a central and a province administrator, and that kernel
served by uvicorn on a free loopback port, as ``nentang serve`` serves it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import ensure_administrator
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.identity_fixtures import identity_settings
from tests.loopback_server import serving

CHROMIUM = Path("/usr/bin/chromium")
#: How long one browser action may wait (a page, a click) before the test fails: generous for a
#: host of 2 cores shared with other work, short enough that a missing element fails fast.
ACTION_TIMEOUT_MS = 15_000


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


@pytest.fixture
def settings(database_url: str) -> Settings:
    # the served platform is plain http on loopback, as the demo: the session cookie goes without
    # Secure there (and only there); cheap password hashing, as in the identity tests
    return identity_settings(database_url, session_cookie_secure=False)


def missing_browser(executable: Path, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """``None`` when ``executable`` can be launched; else ``("skip" | "fail", reason)``."""
    if executable.is_file() and os.access(executable, os.X_OK):
        return None
    reason = f"Debian's chromium is not installed ({executable} missing): apt-get install chromium"
    if environ.get("NENTANG_REQUIRE_BROWSER") == "1":
        return "fail", f"NENTANG_REQUIRE_BROWSER=1 but {reason}"
    return "skip", reason


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    missing = missing_browser(CHROMIUM, os.environ)
    if missing is not None:
        action, reason = missing
        (pytest.fail if action == "fail" else pytest.skip)(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    """One browser for the whole session (a context and a page per test keep tests apart)."""
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(chromium_executable), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def chromium_version(chromium_executable: Path) -> str:
    """What the Debian binary says it is, to compare with what the driven browser reports."""
    done = subprocess.run([str(chromium_executable), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def live(kernel: Kernel, tree: Tree) -> Iterator[LivePlatform]:
    actor = Actor.system("browser-tests")
    accounts = []
    for username, code in (("admin", tree.central.code), ("tinh01", tree.p1.code)):
        made = ensure_administrator(kernel, actor=actor, username=username, tenant_code=code)
        assert made.password is not None
        accounts.append(Account(username, made.password, code))
    with serving(kernel) as url:
        yield LivePlatform(url, kernel, tree, *accounts)


@contextmanager
def _page_in_own_context(browser: Browser, base_url: str | None) -> Iterator[Page]:
    # a context per page: no cookies or storage shared between tests; Vietnamese by default
    context = browser.new_context(base_url=base_url, locale="vi-VN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, live: LivePlatform) -> Iterator[Page]:
    """A page on the live platform (relative URLs are the platform's)."""
    with _page_in_own_context(browser, live.url) as opened:
        yield opened


@pytest.fixture
def blank_page(browser: Browser) -> Iterator[Page]:
    """A page with no platform behind it, for content a test sets itself."""
    with _page_in_own_context(browser, None) as opened:
        yield opened
