"""Sign-in and sign-out in the browser, with the keyboard, with JavaScript on and off."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import Account, LivePlatform


def test_the_sign_in_page_is_vietnamese_and_accessible(page: Page) -> None:
    answer = page.goto("/console/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Sign in"))
    expect(page.get_by_label(vi("Username"))).to_be_visible()
    check_page(page, "sign-in", answer=answer)


def test_a_wrong_password_shows_the_error_summary_then_the_right_one_signs_in(page: Page, live: LivePlatform) -> None:
    admin = live.province_admin
    answer = sign_in(page, Account(admin.username, "not the password", admin.tenant_code))
    assert answer is not None and answer.status == 401
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(vi("There is a problem"))
    expect(summary.get_by_role("link")).to_have_text(vi("The username or password is not right"))
    expect(page.locator("#username")).to_have_value(admin.username)  # kept; the password is not
    expect(page.locator("#password")).to_have_value("")
    check_page(page, "sign-in-error")

    sign_in(page, admin)
    # a province administrator holds one role: the console opens that province's page at once
    assert page.url == live.tenant_url(admin.tenant_code, "console/")
    expect(page.get_by_role("banner")).to_contain_text(vi("Signed in as %(name)s", name="Administrator"))
    expect(page.get_by_role("heading", level=1)).to_have_text(live.tree.p1.name)


def test_signing_out_ends_the_session(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.central_admin)
    page.get_by_role("button", name=vi("Sign out")).click()
    expect(page.get_by_role("status")).to_have_text(vi("You have signed out."))
    page.goto(live.tenant_url("TW", "console/units"))
    assert "/console/sign-in" in page.url  # the old session no longer opens a page


def test_signing_in_works_with_javascript_off(browser: Browser, live: LivePlatform) -> None:
    context = browser.new_context(base_url=live.url, java_script_enabled=False, locale="vi-VN")
    try:
        page = context.new_page()
        sign_in(page, live.province_admin)
        expect(page.get_by_role("heading", level=1)).to_have_text(live.tree.p1.name)
    finally:
        context.close()
