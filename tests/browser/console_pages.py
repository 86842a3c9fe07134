"""Driving the console as a person does: through its forms, in Vietnamese (the default language).

Assertions name the Vietnamese text a person reads, taken from the console's own catalogue by
English message id (:func:`vi`), so a test fails when a page shows an untranslated message.
"""

from __future__ import annotations

from functools import cache

from playwright.sync_api import Page, Response

from nentang.kernel.console.i18n import Catalogues
from tests.browser.axe import assert_accessible
from tests.browser.live import PAGE_ERRORS, Account
from tests.browser.screens import screenshot


@cache
def _catalogues() -> Catalogues:
    return Catalogues()


def vi(message: str, **values: object) -> str:
    """The console's Vietnamese for an English message id (which must be translated)."""
    text = _catalogues().get("vi").gettext(message)
    assert text != message, f"no Vietnamese for {message!r} in the console's catalogue"
    return text % values if values else text


def sign_in(page: Page, account: Account, *, start: str = "/console/sign-in") -> Response | None:
    """Fill in and send the sign-in form; returns the answer to the last navigation."""
    page.goto(start)
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    with page.expect_navigation() as landed:
        page.press("#password", "Enter")  # by keyboard, as many officers do
    return landed.value


def check_page(page: Page, name: str, *, status: int = 200, answer: Response | None = None) -> None:
    """The page as it is now: its status, no serious accessibility violation, and a screenshot."""
    if answer is not None:
        assert answer.status == status, f"{page.url}: {answer.status}"
    assert page.locator("main#main").count() == 1, f"{page.url} has no main landmark"
    errors = PAGE_ERRORS.get(page, [])
    assert errors == [], f"{page.url}: the browser console shows errors: {errors}"
    assert_accessible(page, name)
    screenshot(page, name)
