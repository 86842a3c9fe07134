"""Authentication over HTTP on the real app: sign-in and its cookie, bearer tokens and their 401s,
CSRF for cookie-authenticated unsafe requests, sign-out, ``/auth/me``, and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.caller import Caller
from nentang.kernel.identity.models import ApiToken
from nentang.kernel.identity.tokens import CreatedToken
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.identity_fixtures import PASSWORD, actions, audit_entries, identity_settings, make_admin, web_sessions

COOKIE = "nentang_session"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def client(kernel: Kernel) -> Iterator[TestClient]:
    """The real app over https (the session cookie is Secure, so a client only sends it back there)."""
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as http:
        yield http


@pytest.fixture
def admin(kernel: Kernel, tree: Tree) -> UserInfo:
    return make_admin(kernel, "admin.hanoi", "01", tree.p1.id)


@pytest.fixture
def token(kernel: Kernel, admin: UserInfo) -> CreatedToken:
    return kernel.tokens.create(admin.actor, tenant_code="00001", name="lgsp", roles=["viewer"], expires_in_days=30)


def sign_in(client: TestClient, username: str = "admin.hanoi", password: str = PASSWORD) -> str:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def error_code(response: object) -> str:
    return str(response.json()["error"]["code"])  # type: ignore[attr-defined]


# -- sign-in ------------------------------------------------------------------------------------


def test_login_sets_a_hardened_session_cookie_and_returns_the_csrf_token(
    client: TestClient, admin: UserInfo, kernel: Kernel
) -> None:
    response = client.post("/auth/login", json={"username": "admin.hanoi", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "admin.hanoi" and body["user"]["principal"] == admin.principal
    assert len(body["csrf_token"]) == 43
    [cookie] = response.headers.get_list("set-cookie")
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    assert name_value.startswith(f"{COOKIE}=")
    assert {a.lower() for a in attributes} == {"httponly", "path=/", "samesite=lax", "secure"}
    [row] = web_sessions(kernel, admin.id)
    assert name_value.split("=", 1)[1] not in (row.id, row.csrf_token)  # only a hash is stored


def test_login_accepts_a_urlencoded_form(client: TestClient, admin: UserInfo) -> None:
    response = client.post("/auth/login", data={"username": "admin.hanoi", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/auth/me").json()["user"]["username"] == "admin.hanoi"


def test_the_cookie_drops_secure_only_when_configured_for_plain_http_on_loopback(database_url: str, tree: Tree) -> None:
    relaxed = create_kernel(identity_settings(database_url, session_cookie_secure=False))
    make_admin(relaxed, "local.admin", "TW", tree.central.id)
    try:
        for base, secure in (("http://localhost", False), ("http://127.0.0.1", False), ("http://testserver", True)):
            with TestClient(create_app(relaxed), base_url=base) as http:
                response = http.post("/auth/login", json={"username": "local.admin", "password": PASSWORD})
                assert response.status_code == 200
                assert ("secure" in response.headers["set-cookie"].lower()) is secure
    finally:
        relaxed.close()


def test_wrong_password_and_unknown_user_get_the_same_401_and_no_cookie(
    client: TestClient, admin: UserInfo, kernel: Kernel, tree: Tree
) -> None:
    wrong = client.post("/auth/login", json={"username": "admin.hanoi", "password": "not the password"})
    unknown = client.post("/auth/login", json={"username": "nobody", "password": "not the password"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
    assert wrong.json() == unknown.json()
    assert error_code(wrong) == "auth.bad_credentials"
    failed = [e for e in audit_entries(kernel, tree.p1.id) if e[0] == "auth.login_failed"]
    assert failed and failed[-1][3]["client"] == "testclient"
    assert actions(kernel, tree.central.id)[-1] == "auth.login_failed"


def test_repeated_failures_are_throttled_with_retry_after(client: TestClient, admin: UserInfo) -> None:
    for _ in range(5):
        guess = client.post("/auth/login", json={"username": "admin.hanoi", "password": "bad guess!!!"})
        assert guess.status_code == 401
    locked = client.post("/auth/login", json={"username": "admin.hanoi", "password": PASSWORD})
    assert locked.status_code == 429 and error_code(locked) == "auth.throttled"
    assert 850 <= int(locked.headers["retry-after"]) <= 900
    assert "try again after" in locked.json()["error"]["message"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"username": "admin.hanoi"}}, "are both required"),
        ({"json": ["admin.hanoi", PASSWORD]}, "are both required"),
        ({"json": {"username": 1, "password": PASSWORD}}, "are both required"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "not valid JSON"),
        ({"content": b"admin", "headers": {"content-type": "text/plain"}}, "as JSON or as a URL-encoded form"),
        ({"content": b"[" * 3000 + b"]" * 3000, "headers": {"content-type": "application/json"}}, "not valid JSON"),
        ({"json": {"username": "admin\x00.hanoi", "password": PASSWORD}}, "'username' contains a NUL character"),
        (
            {
                "content": b'{"username": "admin.hanoi", "password": "\\ud800"}',
                "headers": {"content-type": "application/json"},
            },
            "'password' contains a lone surrogate",
        ),
    ],
)
def test_malformed_sign_in_requests_are_400(
    client: TestClient, admin: UserInfo, kwargs: dict[str, object], message: str
) -> None:
    response = client.post("/auth/login", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400 and error_code(response) == "auth.bad_request"
    assert message in response.json()["error"]["message"]


def test_a_sign_in_posted_from_another_site_is_refused(client: TestClient, admin: UserInfo) -> None:
    response = client.post(
        "/auth/login",
        json={"username": "admin.hanoi", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403 and error_code(response) == "auth.csrf"
    same = client.post(
        "/auth/login",
        json={"username": "admin.hanoi", "password": PASSWORD},
        headers={"origin": "https://testserver"},
    )
    assert same.status_code == 200


def test_signing_in_again_ends_the_previous_session(client: TestClient, admin: UserInfo, kernel: Kernel) -> None:
    sign_in(client)
    sign_in(client)
    rows = web_sessions(kernel, admin.id)
    assert len(rows) == 2 and sum(r.revoked_at is None for r in rows) == 1


# -- who am I ------------------------------------------------------------------------------------


def test_me_requires_a_credential(client: TestClient) -> None:
    response = client.get("/auth/me")
    assert response.status_code == 401 and error_code(response) == "auth.required"


def test_me_for_a_session_user(client: TestClient, admin: UserInfo) -> None:
    csrf = sign_in(client)
    body = client.get("/auth/me").json()
    assert (body["principal"], body["method"], body["csrf_token"]) == (admin.principal, "session", csrf)
    assert "token" not in body


def test_me_for_a_token_carries_the_tokens_tenant(client: TestClient, token: CreatedToken, tree: Tree) -> None:
    response = client.get("/auth/me", headers={"authorization": f"Bearer {token.plaintext}"})
    assert response.status_code == 200
    body = response.json()
    assert (body["principal"], body["method"]) == (token.token.principal, "token")
    assert body["tenant"] == {"id": tree.c1.id, "code": "00001", "name": tree.c1.name}
    assert body["token"]["prefix"] == token.token.prefix and token.plaintext not in response.text
    assert Caller.of_token(token.token).tenant_id == tree.c1.id


def test_a_bearer_token_wins_over_a_cookie(client: TestClient, admin: UserInfo, token: CreatedToken) -> None:
    sign_in(client)
    body = client.get("/auth/me", headers={"authorization": f"Bearer {token.plaintext}"}).json()
    assert body["method"] == "token"


# -- bearer refusals ------------------------------------------------------------------------------


def test_bad_bearer_tokens_get_401_with_a_bearer_challenge(
    client: TestClient, kernel: Kernel, admin: UserInfo, token: CreatedToken
) -> None:
    expired = kernel.tokens.create(admin.actor, tenant_code="00001", name="old", roles=["viewer"], expires_in_days=1)
    with kernel.db.platform() as session, session.begin():
        row = session.get(ApiToken, expired.token.id)
        assert row is not None
        row.expires_at = row.expires_at - timedelta(days=2)
    revoked = kernel.tokens.create(admin.actor, tenant_code="00001", name="gone", roles=["viewer"], expires_in_days=1)
    kernel.tokens.revoke(admin.actor, revoked.token.id)
    cases = {
        "auth.token_malformed": "not-a-token",
        "auth.token_unknown": "nt_0123abcd_" + "a" * 43,
        "auth.token_expired": expired.plaintext,
        "auth.token_revoked": revoked.plaintext,
    }
    for code, value in cases.items():
        response = client.get("/auth/me", headers={"authorization": f"Bearer {value}"})
        assert response.status_code == 401, code
        assert error_code(response) == code
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token", error_description="')
    basic = client.get("/auth/me", headers={"authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status_code == 401 and error_code(basic) == "auth.unsupported_scheme"
    assert 'error="invalid_request"' in basic.headers["www-authenticate"]


def test_a_bad_bearer_is_refused_even_on_public_routes(client: TestClient) -> None:
    """An integrator must learn its credential is bad rather than silently continue as anonymous."""
    response = client.get("/healthz", headers={"authorization": "Bearer nope"})
    assert response.status_code == 401


# -- CSRF and sign-out ----------------------------------------------------------------------------


def test_logout_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, admin: UserInfo, kernel: Kernel
) -> None:
    sign_in(client)
    missing = client.post("/auth/logout")
    wrong = client.post("/auth/logout", headers={"x-csrf-token": "x" * 43})
    wrong_form = client.post("/auth/logout", data={"csrf_token": "nope"})
    for response in (missing, wrong, wrong_form):
        assert response.status_code == 403 and error_code(response) == "auth.csrf"
    assert "missing" in missing.json()["error"]["message"] and "wrong" in wrong.json()["error"]["message"]
    assert client.get("/auth/me").status_code == 200  # still signed in: nothing changed
    assert all(r.revoked_at is None for r in web_sessions(kernel, admin.id))


def test_logout_with_the_csrf_header_revokes_the_session(client: TestClient, admin: UserInfo, kernel: Kernel) -> None:
    csrf = sign_in(client)
    cookie = client.cookies[COOKIE]
    response = client.post("/auth/logout", headers={"x-csrf-token": csrf})
    assert response.status_code == 200 and response.json() == {"status": "signed out"}
    cleared = response.headers["set-cookie"].lower()
    assert cleared.startswith(f"{COOKIE}=") and "max-age=0" in cleared
    [row] = web_sessions(kernel, admin.id)
    assert row.revoked_at is not None
    client.cookies.set(COOKIE, cookie)  # a replayed cookie no longer works
    assert client.get("/auth/me").status_code == 401


def test_logout_with_the_csrf_form_field(client: TestClient, admin: UserInfo, kernel: Kernel) -> None:
    csrf = sign_in(client)
    response = client.post("/auth/logout", data={"csrf_token": csrf, "other": "field"})
    assert response.status_code == 200
    assert [r.revoked_at is not None for r in web_sessions(kernel, admin.id)] == [True]
    assert client.get("/auth/me").status_code == 401


def test_csrf_applies_to_every_unsafe_cookie_request(client: TestClient, admin: UserInfo) -> None:
    csrf = sign_in(client)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, "/t/01/")
        assert response.status_code == 403 and error_code(response) == "auth.csrf", method
        assert client.request(method, "/t/01/", headers={"x-csrf-token": csrf}).status_code == 405
    assert client.get("/t/01/").status_code == 200  # safe methods need no token


def test_bearer_requests_are_exempt_from_csrf(client: TestClient, token: CreatedToken) -> None:
    response = client.post("/auth/logout", headers={"authorization": f"Bearer {token.plaintext}"})
    assert response.status_code == 401 and error_code(response) == "auth.required"  # not auth.csrf


def test_anonymous_unsafe_requests_are_not_csrf_checked(client: TestClient) -> None:
    response = client.post("/auth/logout")
    assert response.status_code == 401 and error_code(response) == "auth.required"


def test_a_successful_sign_in_is_audited(client: TestClient, admin: UserInfo, kernel: Kernel, tree: Tree) -> None:
    sign_in(client)
    action, actor, target, detail = audit_entries(kernel, tree.p1.id)[-1]
    assert (action, actor, target) == ("auth.login", admin.principal, "admin.hanoi")
    assert detail["client"] == "testclient"
