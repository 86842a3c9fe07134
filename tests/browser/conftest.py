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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import ensure_administrator
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.browser.live import ACTION_TIMEOUT_MS, CHROMIUM, PAGE_ERRORS, Account, LivePlatform, missing_browser
from tests.conftest import Tree
from tests.identity_fixtures import identity_settings
from tests.loopback_server import serving


@pytest.fixture
def settings(database_url: str) -> Settings:
    # the served platform is plain http on loopback, as the demo: the session cookie goes without
    # Secure there (and only there); cheap password hashing, as in the identity tests
    return identity_settings(database_url, session_cookie_secure=False)


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    missing = missing_browser(CHROMIUM, os.environ)
    if missing is not None:
        action, reason = missing
        (pytest.fail if action == "fail" else pytest.skip)(reason)
    return CHROMIUM


@pytest.fixture(scope="package")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    """One browser for the browser tests (a context and a page per test keep tests apart).

    Package scope, not session: Playwright's sync API keeps an event loop running on the main
    thread while it is started, and every later test calling ``asyncio.run`` would fail."""
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


def _is_fault(message: ConsoleMessage) -> bool:
    # a failed load is reported with its URL by _failed (the console's message does not name it)
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def _failed(answer: Response) -> bool:
    """A file the page needed that did not come (a page's own status is the test's to check)."""
    return answer.status >= 400 and answer.request.resource_type != "document"


@contextmanager
def _page_in_own_context(browser: Browser, base_url: str | None) -> Iterator[Page]:
    # a context per page: no cookies or storage shared between tests; Vietnamese by default
    context = browser.new_context(base_url=base_url, locale="vi-VN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    opened = context.new_page()
    errors = PAGE_ERRORS[opened] = []
    # what the browser's console reports: a script the CSP blocked, a static file that is missing, a JS error
    opened.on("console", lambda message: errors.append(message.text) if _is_fault(message) else None)
    opened.on("response", lambda answer: errors.append(f"{answer.status} {answer.url}") if _failed(answer) else None)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        PAGE_ERRORS.pop(opened, None)
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
