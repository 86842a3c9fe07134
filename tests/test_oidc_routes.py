"""OIDC sign-in over HTTP on the real app, against a real issuer on loopback (oidc-provider-mock).

A test acts as the browser: it opens ``/auth/oidc/start`` on the app, follows the redirect to the
provider's authorization page, signs in there as a subject (or presses "Deny"), and brings the
provider's redirect back to ``/auth/oidc/callback``. Two TestClients are two browsers (two cookie jars).
Also here: the settings read from ``NENTANG_OIDC_*``, and linking a user (service and CLI).
"""

from __future__ import annotations

import dataclasses
import getpass
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import structlog
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from nentang.kernel.cli.main import app as cli
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import OIDCPendingLogin, User
from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import Conflict, PermissionDenied, ValidationFailed
from tests.conftest import TEST_SECRETS_KEY, Tree
from tests.fixtures.oidc_issuers import authorize, mock_provider, register_client
from tests.identity_fixtures import (
    OPERATOR,
    PASSWORD,
    audit_entries,
    identity_settings,
    make_admin,
    make_user,
    web_sessions,
)

pytestmark = [
    # oidc-provider-mock 0.3.x (the last line for Python 3.11) imports authlib.jose and calls an authlib hook
    # that authlib 1.9 deprecates; both warnings come from the provider under test, not from NenTang.
    pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(r"ignore:get_jwt_config\(self, grant\) is deprecated:DeprecationWarning"),
]

BASE = "https://testserver"
REDIRECT_URI = f"{BASE}/auth/oidc/callback"
SUBJECT = "cccd-001088012345"
CITIZEN = {"email": "an.nguyen@hanoi.gov.vn", "email_verified": True, "name": "Nguyễn Văn An"}
SESSION_COOKIE = "nentang_session"
BINDING_COOKIE = "nentang_oidc_login"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """The browser's side at the provider (its authorization page), and the test's admin calls to it."""
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with mock_provider() as url:
        yield url


@pytest.fixture(scope="module")
def oidc_settings(http: httpx.Client, issuer: str) -> OIDCSettings:
    client_id, secret = register_client(http, issuer, REDIRECT_URI)
    return OIDCSettings(issuer=issuer, client_id=client_id, client_secret=secret, redirect_uri=REDIRECT_URI)


@pytest.fixture
def settings(database_url: str, oidc_settings: OIDCSettings) -> Settings:
    return identity_settings(database_url, oidc=oidc_settings)


def browser(kernel: Kernel) -> TestClient:
    """A browser on the app over https (the cookies are Secure), not following redirects on its own."""
    return TestClient(create_app(kernel), base_url=BASE, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def client(kernel: Kernel) -> Iterator[TestClient]:
    with browser(kernel) as http:
        yield http


@pytest.fixture
def linked(kernel: Kernel, tree: Tree, issuer: str) -> UserInfo:
    """An officer of commune 00001 without a password, linked to SUBJECT at the issuer."""
    make_user(kernel, "an.nguyen", "00001", password=None, display_name="Nguyễn Văn An")
    return kernel.users.link_oidc_as_operator(OPERATOR, "an.nguyen", issuer=issuer, subject=SUBJECT)


def start(client: TestClient, return_to: str | None = None) -> str:
    """Open /auth/oidc/start; returns the provider URL the browser is sent to."""
    response = client.get("/auth/oidc/start", params={"return_to": return_to} if return_to is not None else None)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def at_provider(http: httpx.Client, issuer: str, location: str, sub: str | None) -> dict[str, str]:
    """Sign in at the provider as ``sub`` (``None``: press Deny); the query it sends back to the app."""
    return authorize(http, issuer, location, sub, CITIZEN)


def sign_in(client: TestClient, http: httpx.Client, issuer: str, sub: str = SUBJECT, **start_args: Any) -> Any:
    location = start(client, **start_args)
    return client.get("/auth/oidc/callback", params=at_provider(http, issuer, location, sub))


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


def refused(response: Any, code: str, status: int = 403) -> None:
    assert response.status_code == status, response.text
    assert code_of(response) == code, response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def pending_rows(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(OIDCPendingLogin)) or 0


def failures(kernel: Kernel, tenant_id: int) -> list[dict[str, Any]]:
    """The details of a tenant's ``auth.login_failed`` entries, each with the entry's target added."""
    entries = audit_entries(kernel, tenant_id)
    return [detail | {"target": target} for action, _, target, detail in entries if action == "auth.login_failed"]


# -- the flow ---------------------------------------------------------------------------------------------


def test_browser_signs_in_through_the_provider_and_lands_signed_in(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    location = start(client)
    assert location.startswith(f"{issuer}/") and "code_challenge_method=S256" in location
    binding = client.cookies.get(BINDING_COOKIE)
    assert binding and pending_rows(kernel) == 1
    with kernel.db.platform() as session:
        stored = session.scalars(select(OIDCPendingLogin)).one()
    assert binding not in (stored.state_hash, stored.browser_hash)  # only hashes of what the browser holds

    done = client.get("/auth/oidc/callback", params=at_provider(http, issuer, location, SUBJECT))
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/auth/me"
    # The session cookie is the one local sign-in sets, with the same attributes.
    [cookie] = [c for c in done.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    _, *attributes = [part.strip() for part in cookie.split(";")]
    assert {a.lower() for a in attributes} == {"httponly", "path=/", "samesite=lax", "secure"}
    assert pending_rows(kernel) == 0

    me = client.get("/auth/me").json()
    assert (me["principal"], me["method"]) == (linked.principal, "session")
    assert me["user"]["username"] == "an.nguyen" and me["user"]["home_tenant_id"] == tree.c1.id
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("auth.login", linked.principal, "an.nguyen")
    assert detail["method"] == "oidc" and detail["subject"] == SUBJECT and detail["issuer"] == issuer
    assert kernel.users.get("an.nguyen").last_login_at is not None

    # The session works like any other: CSRF-protected sign-out ends it.
    assert client.post("/auth/logout", headers={"x-csrf-token": me["csrf_token"]}).status_code == 200
    assert client.get("/auth/me").status_code == 401


def test_return_to_is_where_the_browser_lands(
    client: TestClient, http: httpx.Client, issuer: str, linked: UserInfo
) -> None:
    done = sign_in(client, http, issuer, return_to="/t/00001/?tab=hồ-sơ")
    assert done.status_code == 302 and unquote(done.headers["location"]) == "/t/00001/?tab=hồ-sơ"


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/",
        "//evil.example/path",
        "//[evil",
        "/\\evil.example",
        "relative/path",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=y",
        "/" + "a" * 2048,
    ],
)
def test_return_to_elsewhere_is_refused(client: TestClient, kernel: Kernel, linked: UserInfo, return_to: str) -> None:
    response = client.get("/auth/oidc/start", params={"return_to": return_to})
    assert response.status_code == 400 and code_of(response) == "auth.oidc_bad_return_to"
    assert pending_rows(kernel) == 0


def test_a_session_open_in_the_browser_is_ended_by_oidc_sign_in(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo
) -> None:
    other = make_user(kernel, "local.user", "01")
    assert client.post("/auth/login", json={"username": "local.user", "password": PASSWORD}).status_code == 200
    assert sign_in(client, http, issuer).status_code == 302
    assert [row.revoked_at is not None for row in web_sessions(kernel, other.id)] == [True]
    assert client.get("/auth/me").json()["user"]["username"] == "an.nguyen"


def test_two_sign_ins_in_progress_in_one_browser_both_complete(
    client: TestClient, http: httpx.Client, issuer: str, linked: UserInfo
) -> None:
    first, second = start(client), start(client)  # two tabs: the binding cookie is reused
    assert client.get("/auth/oidc/callback", params=at_provider(http, issuer, second, SUBJECT)).status_code == 302
    assert client.get("/auth/oidc/callback", params=at_provider(http, issuer, first, SUBJECT)).status_code == 302


# -- refusals -----------------------------------------------------------------------------------------------


def test_a_replayed_callback_is_refused(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    location = start(client)
    callback = at_provider(http, issuer, location, SUBJECT)
    assert client.get("/auth/oidc/callback", params=callback).status_code == 302
    client.cookies.delete(SESSION_COOKIE)
    replay = client.get("/auth/oidc/callback", params=callback)
    refused(replay, "auth.oidc_state_unknown")
    assert "already completed" in replay.json()["error"]["message"]
    assert len(web_sessions(kernel, linked.id)) == 1
    [entry] = failures(kernel, tree.central.id)  # no user is known for an unknown state: the root's chain
    assert entry["reason"] == "auth.oidc_state_unknown" and entry["method"] == "oidc"


def test_a_callback_without_state_is_refused(client: TestClient, kernel: Kernel, linked: UserInfo) -> None:
    refused(client.get("/auth/oidc/callback", params={"code": "stolen"}), "auth.oidc_state_unknown")


def test_a_callback_started_in_another_browser_is_refused(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    """Login CSRF: an attacker starts a sign-in as themself and plants the callback link on a victim."""
    make_user(kernel, "attacker", "00003", password=None)
    kernel.users.link_oidc_as_operator(OPERATOR, "attacker", issuer=issuer, subject="attacker-sub")
    with browser(kernel) as attacker:
        planted = at_provider(http, issuer, start(attacker), "attacker-sub")
        start(client)  # the victim has a binding cookie of its own...
        refused(client.get("/auth/oidc/callback", params=planted), "auth.oidc_state_mismatch")
        assert client.get("/auth/me").status_code == 401
        # ...and the planted sign-in was consumed, so not even the attacker can finish it now.
        refused(attacker.get("/auth/oidc/callback", params=planted), "auth.oidc_state_unknown")

    with browser(kernel) as attacker, browser(kernel) as fresh:  # a victim with no binding cookie at all
        planted = at_provider(http, issuer, start(attacker), "attacker-sub")
        refused(fresh.get("/auth/oidc/callback", params=planted), "auth.oidc_state_mismatch")
    reasons = [e["reason"] for e in failures(kernel, tree.central.id)]
    assert reasons == ["auth.oidc_state_mismatch", "auth.oidc_state_unknown", "auth.oidc_state_mismatch"]
    assert web_sessions(kernel, kernel.users.get("attacker").id) == []


def test_an_unknown_subject_is_refused_audited_and_never_created(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    with kernel.db.platform() as session:
        users_before = session.scalar(select(func.count()).select_from(User))
    response = sign_in(client, http, issuer, sub="cccd-nobody-here")
    refused(response, "auth.oidc_unknown_subject")
    assert "link-oidc" in response.json()["error"]["message"]
    with kernel.db.platform() as session:
        assert session.scalar(select(func.count()).select_from(User)) == users_before
    [entry] = failures(kernel, tree.central.id)
    assert entry["reason"] == "auth.oidc_unknown_subject" and entry["subject"] == "cccd-nobody-here"
    assert entry["target"] == "oidc:cccd-nobody-here" and entry["client"] == "testclient"
    assert client.get("/auth/me").status_code == 401


def test_a_disabled_user_is_refused(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    kernel.users.disable_as_operator(OPERATOR, "an.nguyen", reason="left the unit")
    refused(sign_in(client, http, issuer), "auth.oidc_user_disabled")
    [entry] = failures(kernel, tree.c1.id)
    assert entry["reason"] == "auth.oidc_user_disabled" and entry["target"] == "an.nguyen"
    assert web_sessions(kernel, linked.id) == []


def test_a_user_of_a_suspended_tenant_is_refused(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    kernel.tenants.suspend("01", actor=OPERATOR, reason="audit")  # the province above the user's commune
    refused(sign_in(client, http, issuer), "auth.tenant_suspended")
    assert failures(kernel, tree.c1.id)[-1]["reason"] == "auth.tenant_suspended"
    kernel.tenants.reactivate("01", actor=OPERATOR)
    assert sign_in(client, http, issuer).status_code == 302


def test_the_provider_refusing_is_refused_here_too(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, tree: Tree
) -> None:
    location = start(client)
    denied = at_provider(http, issuer, location, None)  # the person presses "Deny"
    assert denied["error"] == "access_denied"
    # The mock leaves the state out of its error redirect (RFC 6749 wants it echoed): still a clear refusal.
    assert "state" not in denied
    response = client.get("/auth/oidc/callback", params=denied)
    refused(response, "auth.oidc_provider_error")
    assert "access_denied" in response.json()["error"]["message"]
    assert pending_rows(kernel) == 1  # unknown without its state; it expires
    # A provider that echoes the state (as RFC 6749 asks): the sign-in in progress is consumed as well.
    state = parse_qs(urlsplit(location).query)["state"][0]
    refused(client.get("/auth/oidc/callback", params={**denied, "state": state}), "auth.oidc_provider_error")
    assert pending_rows(kernel) == 0
    reasons = [e["reason"] for e in failures(kernel, tree.central.id)]
    assert reasons == ["auth.oidc_provider_error", "auth.oidc_provider_error"]


def test_a_sign_in_that_waited_too_long_is_refused_and_swept(
    client: TestClient, http: httpx.Client, issuer: str, kernel: Kernel, linked: UserInfo, oidc_settings: OIDCSettings
) -> None:
    location = start(client)
    callback = at_provider(http, issuer, location, SUBJECT)
    age_pending_logins(kernel, timedelta(seconds=oidc_settings.login_timeout_seconds + 5))
    refused(client.get("/auth/oidc/callback", params=callback), "auth.oidc_login_expired")

    start(client)
    age_pending_logins(kernel, timedelta(seconds=oidc_settings.login_timeout_seconds + 5))
    start(client)  # the next start sweeps what expired
    assert pending_rows(kernel) == 1


def age_pending_logins(kernel: Kernel, by: timedelta) -> None:
    with kernel.db.platform() as session, session.begin():
        for row in session.scalars(select(OIDCPendingLogin)):
            row.created_at = aware(row.created_at) - by


def test_a_repeated_callback_parameter_is_refused(client: TestClient, kernel: Kernel, linked: UserInfo) -> None:
    response = client.get("/auth/oidc/callback?state=a&state=b&code=c")
    assert response.status_code == 400 and code_of(response) == "auth.oidc_bad_callback"


# -- configuration ------------------------------------------------------------------------------------------


def test_without_an_issuer_the_routes_are_404(database_url: str, tree: Tree) -> None:
    plain = create_kernel(identity_settings(database_url))
    try:
        assert plain.oidc is None
        with browser(plain) as http:
            for path in ("/auth/oidc/start", "/auth/oidc/callback?state=s&code=c"):
                response = http.get(path)
                assert response.status_code == 404 and code_of(response) == "auth.oidc_not_configured"
    finally:
        plain.close()


def test_an_unreachable_provider_is_a_502_with_its_code(
    database_url: str, oidc_settings: OIDCSettings, tree: Tree
) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago and now has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = OIDCSettings(f"http://127.0.0.1:{port}", "c", "s", REDIRECT_URI, http_timeout_seconds=2)
    down = create_kernel(identity_settings(database_url, oidc=gone))
    try:
        with browser(down) as http:
            response = http.get("/auth/oidc/start")
        assert response.status_code == 502 and code_of(response) == "auth.oidc_unreachable"
    finally:
        down.close()


OIDC_ENV = {
    "NENTANG_OIDC_ISSUER": "https://sso.vneid.example.vn",
    "NENTANG_OIDC_CLIENT_ID": "nentang",
    "NENTANG_OIDC_CLIENT_SECRET": "s3cr3t-do-not-log",
    "NENTANG_OIDC_REDIRECT_URI": "https://nentang.example.vn/auth/oidc/callback",
}


def test_settings_from_the_environment_keep_the_secret_out_of_repr() -> None:
    settings = Settings.from_environ(OIDC_ENV)
    oidc = settings.identity.oidc
    assert oidc is not None and (oidc.issuer, oidc.client_id) == ("https://sso.vneid.example.vn", "nentang")
    assert oidc.client_secret == "s3cr3t-do-not-log" and oidc.redirect_uri.endswith("/auth/oidc/callback")
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.identity)
    assert Settings.from_environ({}).identity.oidc is None
    assert IdentitySettings.from_environ({name: "" for name in OIDC_ENV}).oidc is None


def test_half_configured_oidc_names_what_is_missing() -> None:
    partial_env = {k: v for k, v in OIDC_ENV.items() if k != "NENTANG_OIDC_CLIENT_SECRET"}
    with pytest.raises(ValidationFailed) as info:
        Settings.from_environ(partial_env)
    assert info.value.code == "auth.oidc_bad_settings" and "NENTANG_OIDC_CLIENT_SECRET" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        Settings.from_environ(OIDC_ENV | {"NENTANG_OIDC_ISSUER": "http://sso.example.vn"})  # plain http, not loopback
    assert info.value.code == "auth.oidc_bad_settings"


# -- linking ----------------------------------------------------------------------------------------------


def test_linking_is_delegated_administration_and_audited(kernel: Kernel, tree: Tree, issuer: str) -> None:
    make_user(kernel, "binh", "00001", password=None)
    hanoi = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    tuyen_quang = make_admin(kernel, "admin.tq", "02", tree.p2.id)
    with pytest.raises(PermissionDenied):
        kernel.users.link_oidc(tuyen_quang.actor, "binh", issuer=issuer, subject="binh-1")
    assert kernel.users.get("binh").oidc_subject is None

    linked = kernel.users.link_oidc(hanoi.actor, "binh", issuer=issuer, subject="binh-1")
    assert (linked.oidc_issuer, linked.oidc_subject) == (issuer, "binh-1")
    relinked = kernel.users.link_oidc(hanoi.actor, "binh", issuer=issuer, subject="binh-2")
    assert relinked.oidc_subject == "binh-2"
    links = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "user.link_oidc"]
    assert [(actor, detail["subject"]) for _, actor, _, detail in links] == [
        (hanoi.principal, "binh-1"),
        (hanoi.principal, "binh-2"),
    ]
    assert links[-1][3]["replaced"] == {"issuer": issuer, "subject": "binh-1"}

    with pytest.raises(Conflict) as info:
        kernel.users.link_oidc(hanoi.actor, "binh", issuer=issuer, subject="binh-2")
    assert info.value.code == "user.unchanged"
    make_user(kernel, "chi", "00002", password=None)
    with pytest.raises(Conflict) as info:
        kernel.users.link_oidc(hanoi.actor, "chi", issuer=issuer, subject="binh-2")
    assert info.value.code == "user.oidc_taken" and "binh" not in info.value.message
    for bad_issuer, bad_subject, code in (
        ("not a url", "s", "user.bad_oidc_issuer"),
        ("ftp://idp.example.vn", "s", "user.bad_oidc_issuer"),
        (issuer, "", "user.bad_oidc_subject"),
        (issuer, "x" * 256, "user.bad_oidc_subject"),
        (issuer, "tab\there", "user.bad_oidc_subject"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            kernel.users.link_oidc(hanoi.actor, "chi", issuer=bad_issuer, subject=bad_subject)
        assert bad.value.code == code
    with pytest.raises(PermissionDenied):
        kernel.users.link_oidc_as_operator(hanoi.actor, "chi", issuer=issuer, subject="chi-1")


@pytest.fixture
def _restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.usefixtures("_restore_structlog")
def test_the_link_oidc_command(kernel: Kernel, tree: Tree, database_url: str, issuer: str) -> None:
    make_user(kernel, "dung", "00003", password=None)
    env = {
        "NENTANG_DATABASE_URL": database_url,
        "NENTANG_LOG_FORMAT": "console",
        "NENTANG_MODE": None,
        "NENTANG_SECRETS_KEY": TEST_SECRETS_KEY,
    }
    env |= {name: None for name in OIDC_ENV}  # the operator's shell has no issuer configured
    args = ["user", "link-oidc", "dung", "--issuer", issuer, "--subject", "dung-1"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "linked dung to subject 'dung-1'" in result.stdout
    assert "note: the configured issuer is none" in result.stderr
    assert kernel.users.get("dung").oidc_subject == "dung-1"
    action, actor, target, detail = audit_entries(kernel, tree.c3.id)[-1]
    assert (action, actor, target, detail["subject"]) == (
        "user.link_oidc",
        f"cli:{getpass.getuser()}",
        "dung",
        "dung-1",
    )

    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 1 and again.stderr.startswith("error [user.unchanged]: ")


def test_starting_sign_ins_in_a_loop_is_refused_with_429_and_stores_nothing(
    database_url: str, oidc_settings: OIDCSettings, tree: Tree
) -> None:
    limited = dataclasses.replace(oidc_settings, starts_per_minute=3)
    kernel = create_kernel(identity_settings(database_url, oidc=limited))
    kernel.start()
    try:
        with browser(kernel) as client:
            for _ in range(3):
                start(client)
            assert pending_rows(kernel) == 3
            response = client.get("/auth/oidc/start")
            assert response.status_code == 429, response.text
            assert code_of(response) == "auth.rate_limited"
            assert 0 < int(response.headers["retry-after"]) <= 60
            assert pending_rows(kernel) == 3  # the refused start stored nothing
    finally:
        kernel.close()


def test_a_start_limit_below_one_is_refused(oidc_settings: OIDCSettings) -> None:
    with pytest.raises(ValidationFailed, match="starts_per_minute must be at least 1"):
        dataclasses.replace(oidc_settings, starts_per_minute=0)
