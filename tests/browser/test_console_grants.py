"""Delegation in the browser: a province administrator creates a role from permissions it holds,
grants it in one of its communes, and is refused the same grant in another province's commune
(the reason in the form, nothing changed, the refusal in that commune's audit). And a person added
with a generated password signs in with it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import Account, LivePlatform
from tests.identity_fixtures import actions, make_user


def test_a_role_created_and_granted_in_a_commune_and_refused_in_another_province(
    page: Page, live: LivePlatform
) -> None:
    kernel, tree = live.kernel, live.tree
    make_user(kernel, "canbo2", "01", display_name="Trần Thị Hai")
    sign_in(page, live.province_admin)
    page.goto(live.tenant_url("01", "console/roles/new"))
    page.fill("#name", "xu-ly-ho-so")
    page.locator("#permissions input[type=checkbox]").first.check()
    page.get_by_role("button", name=vi("Create the role")).click()
    page.goto(live.tenant_url("01", "console/roles"))
    expect(page.locator("main")).to_contain_text("xu-ly-ho-so")
    check_page(page, "grant-roles")

    page.goto(live.tenant_url("01", "console/people/canbo2"))
    page.select_option("#role", "xu-ly-ho-so")
    page.fill("#unit", "00001")
    page.get_by_role("button", name=vi("Grant the role")).click()
    expect(page.get_by_role("status")).to_have_text(vi("The role was granted."))
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("xu-ly-ho-so")
    expect(rows.first).to_contain_text("00001")

    page.select_option("#role", "xu-ly-ho-so")
    page.fill("#unit", "00003")  # a commune of province 02
    with page.expect_navigation() as sent:
        page.get_by_role("button", name=vi("Grant the role")).click()
    assert sent.value is not None and sent.value.status == 404
    expect(page.get_by_role("alert")).to_contain_text("00003")
    expect(rows).to_have_count(1)  # nothing changed
    check_page(page, "grant-refused-other-province", status=404, answer=sent.value)
    assert "console.refused" in actions(kernel, tree.c3.id)


def test_a_person_added_with_an_error_then_correctly_signs_in_with_the_password_shown(
    page: Page, live: LivePlatform
) -> None:
    sign_in(page, live.province_admin)
    page.goto(live.tenant_url("01", "console/people/new"))
    with page.expect_navigation() as sent:
        page.get_by_role("button", name=vi("Add the person")).click()
    assert sent.value is not None and sent.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text(vi("There is a problem"))
    check_page(page, "grant-person-new-error")

    page.fill("#username", "canbo1")
    page.fill("#display_name", "Nguyễn Văn Một")
    page.get_by_role("button", name=vi("Add the person")).click()
    password = page.locator("#password").inner_text().strip()
    page.context.clear_cookies()
    sign_in(page, Account("canbo1", password, "01"))
    expect(page.get_by_role("banner")).to_contain_text("Nguyễn Văn Một")
