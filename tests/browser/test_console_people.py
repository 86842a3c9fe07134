"""The People, Roles and API tokens pages in the browser: each page scanned for accessibility, and a
person added with a generated password, then granted a role, by keyboard and mouse as a person does."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.console_pages import check_page, sign_in, vi
from tests.browser.live import LivePlatform


def test_adding_a_person_and_granting_a_role(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    page.get_by_role("link", name=vi("People"), exact=True).click()
    check_page(page, "people")
    page.get_by_role("link", name=vi("Add a person to %(unit)s", unit=live.tree.p1.name)).click()
    check_page(page, "person-new")
    page.fill("#username", "lan.nguyen")
    page.fill("#display_name", "Nguyễn Thị Lan")
    page.get_by_role("button", name=vi("Add the person")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Person added"))
    assert page.locator("#password").inner_text().strip()
    check_page(page, "person-created")
    page.get_by_role("link", name=vi("Go to their page, to grant a role")).click()
    check_page(page, "person")
    page.select_option("#role", "viewer")
    page.get_by_role("button", name=vi("Grant the role")).click()
    expect(page.get_by_role("status")).to_have_text(vi("The role was granted."))
    check_page(page, "person-granted")


def test_the_roles_and_tokens_pages_are_accessible(page: Page, live: LivePlatform) -> None:
    sign_in(page, live.province_admin)
    for path, name in (
        ("console/roles", "roles"),
        ("console/roles/new", "role-new"),
        ("console/tokens", "tokens"),
        ("console/tokens/new", "token-new"),
    ):
        answer = page.goto(live.tenant_url("01", path))
        check_page(page, name, answer=answer)
