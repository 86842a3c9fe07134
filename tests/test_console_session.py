"""The console's sign-in, session, CSRF, security headers and languages, on the real app over https,
driven as a browser with JavaScript off drives it (plain form posts, redirects followed by GET)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from nentang.kernel.console import catalogue
from nentang.kernel.console.csrf import PRE_SESSION_COOKIE
from nentang.kernel.console.i18n import Formats
from nentang.kernel.console.security import CONTENT_SECURITY_POLICY
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.models import WebSession
from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel, create_kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.identity_fixtures import actions, identity_settings, web_sessions

# -- sign-in and sign-out -------------------------------------------------------------------------

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def test_sign_in_opens_a_session_and_lands_where_asked(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    page = client.get("/console/sign-in?next=/t/01/console/units")
    assert page.status_code == 200 and '<html lang="vi">' in page.text and "Đăng nhập" in page.text
    assert 'for="username"' in page.text and 'autocomplete="current-password"' in page.text
    fields = {
        "csrf_token": form_token(page.text),
        "username": "Admin.Hanoi ",
        "password": "correct horse battery staple",
    }
    response = post_form(client, "/console/sign-in", None, next="/t/01/console/units", **fields)
    assert response.status_code == 303 and response.headers["location"] == "/t/01/console/units"
    assert "nentang_session=" in response.headers["set-cookie"]
    assert len(web_sessions(kernel, admin.id)) == 1
    assert "auth.login" in actions(kernel, admin.home_tenant_id)
    assert "Phường Một" in client.get("/t/01/console/units").text


def test_a_wrong_password_shows_the_error_and_opens_no_session(
    client: TestClient, kernel: Kernel, admin: UserInfo
) -> None:
    token = form_token(client.get("/console/sign-in").text)
    response = post_form(client, "/console/sign-in", token, username="admin.hanoi", password="wrong")
    assert response.status_code == 401
    assert "Có lỗi cần sửa" in response.text and '<a href="#username">' in response.text
    assert 'value="admin.hanoi"' in response.text  # the name stays; the password never comes back
    assert web_sessions(kernel, admin.id) == []
    assert "auth.login_failed" in actions(kernel, admin.home_tenant_id)


def test_empty_fields_are_named_in_the_error_summary(client: TestClient, admin: UserInfo) -> None:
    token = form_token(client.get("/console/sign-in").text)
    response = post_form(client, "/console/sign-in", token, username="", password="")
    assert response.status_code == 400
    assert '<a href="#username">Nhập tên đăng nhập</a>' in response.text
    assert '<a href="#password">Nhập mật khẩu</a>' in response.text
    assert 'aria-describedby="username-error"' in response.text


def test_sign_in_lands_only_on_console_paths(client: TestClient, admin: UserInfo) -> None:
    for next_path in ("https://evil.example/", "//evil.example/x", "/auth/me", "/\\evil"):
        token = form_token(client.get("/console/sign-in").text)
        fields = {"username": "admin.hanoi", "password": "correct horse battery staple", "next": next_path}
        response = post_form(client, "/console/sign-in", token, **fields)
        assert response.status_code == 303 and response.headers["location"] == "/console/", next_path
        post_form(client, "/console/sign-out", form_token(client.get("/t/01/console/").text))


def test_the_sign_in_form_is_refused_without_its_double_submit_token(
    client: TestClient, kernel: Kernel, admin: UserInfo
) -> None:
    client.get("/console/sign-in")  # the browser has the cookie, but the forged form lacks the field
    fields = {"username": "admin.hanoi", "password": "correct horse battery staple"}
    missing = post_form(client, "/console/sign-in", None, **fields)
    wrong = post_form(client, "/console/sign-in", "x" * 43, **fields)
    client.cookies.delete(PRE_SESSION_COOKIE)
    no_cookie = post_form(client, "/console/sign-in", "x" * 43, **fields)
    for response in (missing, wrong, no_cookie):
        assert response.status_code == 403 and "Biểu mẫu đã hết hạn" in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert web_sessions(kernel, admin.id) == []
    assert "auth.login" not in actions(kernel, admin.home_tenant_id)


def test_sign_out_ends_the_session_and_needs_the_token(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    token = console_sign_in(client, "admin.hanoi")
    refused = post_form(client, "/console/sign-out", None)
    assert refused.status_code == 403 and "Biểu mẫu đã hết hạn" in refused.text
    assert client.get("/t/01/console/").status_code == 200  # still signed in: nothing changed
    response = post_form(client, "/console/sign-out", token)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in?signed_out=1"
    assert all(row.revoked_at is not None for row in web_sessions(kernel, admin.id))
    assert "auth.logout" in actions(kernel, admin.home_tenant_id)
    assert client.get("/t/01/console/", follow_redirects=False).status_code == 303


def test_an_expired_session_goes_back_to_sign_in_and_returns(
    client: TestClient, kernel: Kernel, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    with kernel.db.platform() as session, session.begin():
        for row in session.query(WebSession).all():
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = client.get("/t/01/console/units?parent=01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Ft%2F01%2Fconsole%2Funits%3Fparent%3D01&expired=1"
    page = client.get(response.headers["location"])
    assert "Phiên làm việc đã kết thúc" in page.text
    assert 'name="next" value="/t/01/console/units?parent=01"' in page.text


def test_nobody_signed_in_is_sent_to_sign_in_without_the_expiry_notice(client: TestClient, tree: Tree) -> None:
    response = client.get("/t/01/console/", follow_redirects=False)
    assert (
        response.status_code == 303 and response.headers["location"] == "/console/sign-in?next=%2Ft%2F01%2Fconsole%2F"
    )
    assert client.get("/console/", follow_redirects=False).headers["location"].startswith("/console/sign-in")
    unit_sign_in = client.get("/t/01/console/sign-in", follow_redirects=False)
    assert unit_sign_in.headers["location"] == "/console/sign-in?next=/t/01/console/"


# -- units one may not enter ----------------------------------------------------------------------


def test_an_unknown_unit_is_a_404_page(client: TestClient, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    response = client.get("/t/99999/console/units")
    assert response.status_code == 404 and "Không có đơn vị mang mã 99999" in response.text


def test_a_unit_where_one_holds_no_role_is_refused_and_audited(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    for path in ("/t/02/console/", "/t/TW/console/units"):
        response = client.get(path)
        assert response.status_code == 403 and "Bạn không thể làm việc tại đơn vị này" in response.text
    assert "console.tenant_refused" in actions(kernel, tree.p2.id)
    assert "console.tenant_refused" in actions(kernel, tree.p1.id)  # the person's home unit hears of it


def test_a_suspended_unit_is_a_403_page(client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    kernel.tenants.suspend("00001", actor=admin.actor)
    response = client.get("/t/00001/console/")
    assert response.status_code == 403 and "Đơn vị này đang bị tạm dừng" in response.text


# -- headers, languages, formats ------------------------------------------------------------------


def test_every_console_response_carries_the_security_headers(client: TestClient, admin: UserInfo) -> None:
    token = form_token(client.get("/console/sign-in").text)
    responses = [
        client.get("/console/sign-in"),
        client.get("/console/static/console.css"),
        client.get("/t/01/console/", follow_redirects=False),
        post_form(client, "/console/sign-in", None),  # a CSRF refusal
        post_form(client, "/console/sign-in", token, username="admin.hanoi", password="correct horse battery staple"),
        client.get("/t/99999/console/"),
    ]
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, response.url
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert responses[0].headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script[^>]*>", responses[0].text)
    assert scripts == ['<script src="/console/static/console.js" defer>']  # no inline script, none needed
    assert "style=" not in responses[0].text


def test_vietnamese_by_default_and_english_on_request(client: TestClient, admin: UserInfo) -> None:
    page = client.get("/console/sign-in")
    assert '<html lang="vi">' in page.text and "Bỏ qua, đến nội dung chính" in page.text
    english = client.get("/console/sign-in?lang=en")
    assert '<html lang="en">' in english.text and "Skip to main content" in english.text
    assert "nentang_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/console/sign-in").text  # the cookie keeps the choice
    assert '<html lang="vi">' in client.get("/console/sign-in?lang=vi").text
    assert '<html lang="vi">' in client.get("/console/sign-in?lang=fr").text  # unknown: the cookie's, set to vi


def test_numbers_and_dates_follow_vietnamese_conventions() -> None:
    moment = datetime(2026, 12, 8, 2, 21, tzinfo=UTC)
    vi, en = Formats("vi"), Formats("en")
    assert vi.number(3356) == "3.356" and en.number(3356) == "3,356"
    assert vi.datetime(moment) == "08/12/2026 09:21"  # Asia/Ho_Chi_Minh, day first, 24-hour clock
    assert en.datetime(moment) == "8 Dec 2026 09:21"


def test_every_message_has_its_vietnamese_translation() -> None:
    assert catalogue.problems() == []
    assert len(catalogue.extracted()) > 50  # the extraction found the templates' messages


def test_the_identity_providers_button_appears_where_oidc_is_configured(database_url: str) -> None:
    oidc = OIDCSettings(
        issuer="http://127.0.0.1:9/issuer",  # never contacted: the page only links to the start route
        client_id="console",
        client_secret="secret",
        redirect_uri="https://testserver/auth/oidc/callback",
    )
    kernel = create_kernel(identity_settings(database_url, oidc=oidc))
    try:
        with TestClient(create_app(kernel), base_url="https://testserver") as http:
            page = http.get("/console/sign-in?next=/t/01/console/units")
        assert 'href="/auth/oidc/start?return_to=%2Ft%2F01%2Fconsole%2Funits"' in page.text
        assert "Đăng nhập bằng tài khoản của cơ quan" in page.text
    finally:
        kernel.close()


def test_no_identity_providers_button_without_oidc(client: TestClient) -> None:
    assert "/auth/oidc/start" not in client.get("/console/sign-in").text
