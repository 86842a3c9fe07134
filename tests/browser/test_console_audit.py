"""The Audit page in the browser: reached from the menu, filtered (a mistyped date first, then a
good one), its chain verified — each state scanned for accessibility."""

from __future__ import annotations

from datetime import datetime

from playwright.sync_api import Page, expect

from nentang.kernel.console.i18n import LOCAL_TIME
from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import LivePlatform


def test_reading_filtering_and_verifying_the_audit_log(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    page.get_by_role("link", name=vi("Audit"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Audit log of %(unit)s", unit=live.tree.p1.name))
    assert page.locator("tbody tr").count() > 0
    check_page(page, "audit")
    page.fill("#since", "31/02/2026")
    with page.expect_navigation() as refused:
        page.get_by_role("button", name=vi("Filter"), exact=True).click()
    expect(page.locator("#since-error")).to_contain_text(vi("Enter a date like 31/12/2026"))
    check_page(page, "audit-bad-filter", status=400, answer=refused.value)
    page.fill("#since", datetime.now(LOCAL_TIME).strftime("%d/%m/%Y"))
    page.get_by_role("button", name=vi("Filter"), exact=True).click()
    assert page.locator("tbody tr").count() > 0
    page.get_by_role("button", name=vi("Verify the chain")).click()
    expect(page.locator("#chain-report h2")).to_have_text(vi("The chain is intact"))
    check_page(page, "audit-verified")
