"""Authentication and suspended tenants, and the sign-out's audit entry, on the real app.

A valid session whose user's home tenant (or an ancestor) is suspended, and a valid token whose
tenant (or an ancestor) is, are refused with 403 ``auth.tenant_suspended`` on every request until the
tenant is reactivated; the next request after either change sees it (the worker that made the change
forgets what it knew at once; ``test_propagation.py`` covers the other workers).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.identity_fixtures import OPERATOR, PASSWORD, audit_entries, identity_settings, make_admin, make_user


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def client(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as http:
        yield http


def sign_in(client: TestClient, username: str) -> str:
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def code_of(response: object) -> str:
    return str(response.json()["error"]["code"])  # type: ignore[attr-defined]


def test_sign_out_is_audited(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    user = make_user(kernel, "officer", "00001")
    csrf = sign_in(client, "officer")
    assert client.post("/auth/logout", headers={"x-csrf-token": csrf}).status_code == 200
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("auth.logout", user.principal, "officer")
    assert detail["client"] == "testclient" and len(detail["session"]) == 12


@pytest.mark.parametrize("suspended", ["00001", "01"], ids=["home tenant", "ancestor"])
def test_a_session_of_a_suspended_tenant_is_refused_until_reactivated(
    client: TestClient, kernel: Kernel, tree: Tree, suspended: str
) -> None:
    make_user(kernel, "officer", "00001")
    sign_in(client, "officer")
    kernel.tenants.suspend(suspended, actor=OPERATOR, reason="inspection")
    for method, path in (("GET", "/auth/me"), ("GET", "/t/00002/"), ("POST", "/auth/logout")):
        response = client.request(method, path)
        assert response.status_code == 403 and code_of(response) == "auth.tenant_suspended", (method, path)
    assert "'00001'" in client.get("/auth/me").json()["error"]["message"]
    refusals = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "auth.tenant_suspended"]
    assert len(refusals) == 1  # a security event, recorded once however often the browser retries
    _, actor, target, detail = refusals[0]
    assert actor == target == f"user:{kernel.users.get('officer').id}"
    assert detail == {"suspended": "00001", "method": "GET", "path": "/auth/me"}
    kernel.tenants.reactivate(suspended, actor=OPERATOR)
    assert client.get("/auth/me").json()["user"]["username"] == "officer"


def test_a_suspended_sibling_does_not_touch_a_user(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "officer", "00001")
    sign_in(client, "officer")
    kernel.tenants.suspend("00002", actor=OPERATOR)
    kernel.tenants.suspend("02", actor=OPERATOR)
    assert client.get("/auth/me").status_code == 200


@pytest.fixture
def admin(kernel: Kernel, tree: Tree) -> UserInfo:
    return make_admin(kernel, "admin.hanoi", "01", tree.p1.id)


@pytest.mark.parametrize("suspended", ["00001", "01"], ids=["token tenant", "ancestor"])
def test_a_token_of_a_suspended_tenant_is_refused(
    client: TestClient, kernel: Kernel, admin: UserInfo, suspended: str
) -> None:
    token = kernel.tokens.create(admin.actor, tenant_code="00001", name="lgsp", roles=["viewer"], expires_in_days=30)
    bearer = {"authorization": f"Bearer {token.plaintext}"}
    kernel.tenants.suspend(suspended, actor=OPERATOR)
    for _ in range(3):
        response = client.get("/auth/me", headers=bearer)
        assert response.status_code == 403 and code_of(response) == "auth.tenant_suspended"
    assert "www-authenticate" not in response.headers  # the credential is fine; its tenant is not serving
    refusals = [e for e in audit_entries(kernel, token.token.tenant_id) if e[0] == "auth.tenant_suspended"]
    assert [(actor, detail["suspended"]) for _, actor, _, detail in refusals] == [(token.token.principal, "00001")]
    kernel.tenants.reactivate(suspended, actor=OPERATOR)
    assert client.get("/auth/me", headers=bearer).json()["method"] == "token"


def test_a_token_elsewhere_in_the_tree_still_works(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    token = kernel.tokens.create(admin.actor, tenant_code="00001", name="lgsp", roles=["viewer"], expires_in_days=30)
    kernel.tenants.suspend("02", actor=OPERATOR)
    assert client.get("/auth/me", headers={"authorization": f"Bearer {token.plaintext}"}).status_code == 200
