"""The browser tests' own machinery: Debian's chromium, the live platform, the scan, the screenshots.

The console's pages are tested in the other modules here; these show that what they stand on
works, and that the accessibility scan and the screenshot helper can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.axe import assert_accessible, scan
from tests.browser.console_pages import check_page
from tests.browser.live import CHROMIUM, PAGE_ERRORS, LivePlatform, missing_browser
from tests.browser.screens import SCREENSHOTS, screenshot

SIGN_IN = """async ([username, password]) => {
    const answer = await fetch('/auth/login', {
        method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({username, password})});
    return answer.status;
}"""


def test_the_driven_browser_is_debians_chromium(browser: Browser, chromium_version: str) -> None:
    # e.g. "Chromium 156.0.8078.129 built on Debian GNU/Linux 12 (bookworm)" and "156.0.8078.129"
    assert browser.version in chromium_version
    assert "Debian" in chromium_version


def test_without_chromium_the_tests_skip_outside_ci_and_fail_in_it(tmp_path: Path) -> None:
    absent = tmp_path / "chromium"
    assert missing_browser(CHROMIUM, {}) is None
    assert missing_browser(absent, {}) == (
        "skip",
        f"Debian's chromium is not installed ({absent} missing): apt-get install chromium",
    )
    action, reason = missing_browser(absent, {"NENTANG_REQUIRE_BROWSER": "1"}) or ("", "")
    assert action == "fail" and reason.startswith("NENTANG_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
    absent.write_text("#!/bin/sh\n")  # present but not executable: still missing
    assert missing_browser(absent, {}) is not None


def test_chromium_reaches_the_platform_on_loopback(page: Page, live: LivePlatform) -> None:
    answer = page.goto("/readyz")
    assert answer is not None and answer.status == 200
    assert json.loads(page.inner_text("body"))["status"] == "ready"
    assert live.url.startswith("http://127.0.0.1:")


def test_a_browser_session_holds_its_cookie_over_plain_http_on_loopback(page: Page, live: LivePlatform) -> None:
    page.goto("/healthz")
    admin = live.province_admin
    assert page.evaluate(SIGN_IN, [admin.username, "not the password"]) == 401
    assert page.goto("/auth/me").status == 401  # type: ignore[union-attr]
    assert page.evaluate(SIGN_IN, [admin.username, admin.password]) == 200
    me = page.goto("/auth/me")
    assert me is not None and me.status == 200
    assert json.loads(page.inner_text("body"))["user"]["username"] == "tinh01"
    cookie = next(c for c in page.context.cookies() if c["name"] == live.kernel.settings.identity.session_cookie_name)
    assert cookie["httpOnly"] and not cookie["secure"]


def test_the_scan_fails_a_page_with_a_critical_violation_and_lists_it(blank_page: Page) -> None:
    blank_page.set_content(
        '<html lang="vi"><head><title>x</title></head><body><main><img src="a.png"></main></body></html>'
    )
    assert [v["id"] for v in scan(blank_page) if v["impact"] == "critical"] == ["image-alt"]
    with pytest.raises(pytest.fail.Exception, match=r"1 serious or critical\n- critical: image-alt"):
        assert_accessible(blank_page, "a page with an unlabelled image")


def test_the_scan_passes_a_page_without_serious_violations(blank_page: Page) -> None:
    blank_page.set_content(
        '<html lang="vi"><head><title>Trang</title></head><body><main><h1>Tiêu đề</h1>'
        '<label for="q">Tìm</label><input id="q" name="q"></main></body></html>'
    )
    assert_accessible(blank_page, "a small labelled page")


def test_screenshots_are_pngs_under_var_and_names_are_checked(blank_page: Page) -> None:
    blank_page.set_content('<html lang="vi"><body><main><h1>Ảnh chụp</h1></main></body></html>')
    path = screenshot(blank_page, "infrastructure-probe")
    assert path.parent == SCREENSHOTS and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="lower-case letters"):
        screenshot(blank_page, "../escape")


def test_a_page_check_fails_on_a_script_the_csp_blocks_or_a_missing_file(page: Page) -> None:
    page.goto("/console/sign-in")
    check_page(page, "sign-in")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s) }"
    )
    page.wait_for_timeout(200)  # the browser reports the violation after the call returns
    with pytest.raises(AssertionError, match="inline script violates the following Content Security Policy"):
        check_page(page, "sign-in")
    assert page.evaluate("() => window.ran") is None  # blocked, not only reported
    PAGE_ERRORS[page].clear()
    with page.expect_response("**/console/static/missing.png"):
        page.evaluate("() => { const i = new Image(); i.src = '/console/static/missing.png'; document.body.append(i) }")
    page.wait_for_timeout(200)  # the console message follows the response
    with pytest.raises(AssertionError, match=r"404 http://127\.0\.0\.1:\d+/console/static/missing\.png"):
        check_page(page, "sign-in")
