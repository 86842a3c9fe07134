"""The Plugins page in the browser: a province administrator enables the notice board for one of
its communes through its settings form (a mistake first, then correctly), and the board's menu
entry and page exist in that commune only, not in the neighbouring one."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import LivePlatform
from tests.identity_fixtures import grant

BOARD = "Bảng tin"  # the notice board's own title for its page (the plugin's words, not the console's)


def test_enabling_a_plugin_for_one_commune_with_its_settings(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    page.goto(live.tenant_url("01", "console/plugins?unit=00001"))
    expect(page.locator("#plugin-noticeboard td.state")).to_have_attribute("data-state", "disabled")
    check_page(page, "plugins")

    page.goto(live.tenant_url("01", "console/plugins/noticeboard/settings?unit=00001"))
    page.fill("#setting-welcome", "x" * 201)  # the schema allows at most 200 characters
    with page.expect_navigation() as refused:
        page.click("#save-settings")
    expect(page.locator("#setting-welcome-error")).to_be_visible()
    expect(page.locator(".error-summary, [role=alert]").first).to_be_visible()
    check_page(page, "plugin-settings-error", status=400, answer=refused.value)

    page.fill("#setting-welcome", "Chào mừng bà con phường Một")
    page.click("#save-settings")
    page.goto(live.tenant_url("01", "console/plugins?unit=00001"))
    expect(page.locator("#plugin-noticeboard td.state")).to_have_attribute("data-state", "enabled")
    page.goto(live.tenant_url("01", "console/plugins?unit=00002"))
    expect(page.locator("#plugin-noticeboard td.state")).to_have_attribute("data-state", "disabled")

    # the board's page is for its readers (a role that exists once the plugin is enabled somewhere):
    # the administrator is made one across the province, so only the plugin decides where it shows
    administrator = live.kernel.users.get(live.province_admin.username)
    grant(live.kernel, administrator, "noticeboard.reader", live.tree.p1.id)
    page.goto(live.tenant_url("00001", "console/"))
    page.get_by_role("link", name=BOARD, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(BOARD)
    check_page(page, "plugin-page")

    page.goto(live.tenant_url("00002", "console/"))
    expect(page.get_by_role("link", name=BOARD, exact=True)).to_have_count(0)
    absent = page.goto(live.tenant_url("00002", "console/p/noticeboard/"))
    assert absent is not None and absent.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Page not found"))
