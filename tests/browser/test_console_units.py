"""The units pages in the browser: a province administrator's tree, provisioning with an error then
correctly, suspension and reactivation, and the refusals outside its province."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import LivePlatform


def test_a_province_administrator_sees_its_communes_only_and_searches_them(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    check_page(page, "unit-overview")
    page.get_by_role("link", name=vi("See the units")).click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("td.code")).to_have_text(["00001", "00002"])
    check_page(page, "units")

    page.get_by_role("searchbox").fill("Hai")
    page.get_by_role("searchbox").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Phường Hai")
    rows.first.get_by_role("link", name="Phường Hai").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Phường Hai")
    check_page(page, "unit-page")


def test_provisioning_a_commune_with_an_error_then_correctly(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    answer = page.goto(live.tenant_url("01", "console/units/01/new"))
    check_page(page, "unit-new", answer=answer)
    page.fill("#name", "Phường Bốn")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name=vi("Provision the unit")).click()
    assert sent.value is not None and sent.value.status == 400
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(vi("There is a problem"))
    expect(page.locator("#name")).to_have_value("Phường Bốn")  # what was typed is kept
    check_page(page, "unit-new-error")
    before = live.kernel.tenants.count()

    page.fill("#code", "00004")
    page.get_by_role("button", name=vi("Provision the unit")).click()
    expect(page.get_by_role("status")).to_have_text(vi("The unit was provisioned."))
    expect(page.get_by_role("heading", level=1)).to_have_text("Phường Bốn")
    assert live.kernel.tenants.count() == before + 1
    assert live.kernel.tenants.get("00004").parent_id == live.tree.p1.id


def test_suspending_and_reactivating_a_commune(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    page.goto(live.tenant_url("01", "console/units/00002"))
    page.fill("#reason", "sáp nhập")
    page.get_by_role("button", name=vi("Suspend %(unit)s", unit="Phường Hai")).click()
    expect(page.get_by_role("status")).to_have_text(vi("The unit was suspended."))
    expect(page.locator("dl.summary")).to_contain_text(vi("Suspended"))
    check_page(page, "unit-suspended")
    assert live.kernel.tenants.get("00002").status.value == "suspended"

    page.get_by_role("button", name=vi("Reactivate %(unit)s", unit="Phường Hai")).click()
    expect(page.get_by_role("status")).to_have_text(vi("The unit was reactivated."))
    assert live.kernel.tenants.get("00002").status.value == "active"


def test_another_province_is_refused_and_its_commune_does_not_exist_here(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    answer = page.goto(live.tenant_url("02", "console/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("You cannot work in this unit"))
    check_page(page, "refused-other-province", status=403, answer=answer)

    answer = page.goto(live.tenant_url("01", "console/units/00003"))
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Page not found"))
    check_page(page, "unit-not-here", status=404, answer=answer)


def test_a_form_with_a_forged_token_changes_nothing(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    page.goto(live.tenant_url("01", "console/units/00002"))
    page.locator("#main input[name=csrf_token]").evaluate("input => { input.value = 'forged' }")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name=vi("Suspend %(unit)s", unit="Phường Hai")).click()
    assert sent.value is not None and sent.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("This form has expired"))
    check_page(page, "csrf-refused", status=403, answer=sent.value)
    assert live.kernel.tenants.get("00002").status.value == "active"


def test_the_central_administrator_chooses_a_unit_among_all(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.central_admin)
    answer = page.goto("/console/?choose=1")
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Choose a unit to work in"))
    check_page(page, "choose-unit", answer=answer)
    page.get_by_role("searchbox").fill("Xã Ba")
    page.get_by_role("searchbox").press("Enter")
    page.get_by_role("table").get_by_role("link", name="Xã Ba").click()
    assert page.url == live.tenant_url("00003", "console/")


def test_the_units_page_fits_a_phone(page: Page, live: LivePlatform) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live.province_admin, start="/console/sign-in?next=/t/01/console/units")
    assert page.url == live.tenant_url("01", "console/units")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the page scrolls sideways on a phone ({scroll_width}px wide)"
    check_page(page, "units-phone")
