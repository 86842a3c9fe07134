"""One error envelope (#13 item 6): every refusal of ``/graphql`` is GraphQL's ``errors[]`` with
``extensions.code``, in the media type the client accepts — also the ones the HTTP layer makes
before GraphQL runs (bad credentials, a suspended tenant, a missing CSRF token). Other routes keep
``{"error": {...}}`` with the same codes.

The original failure: a bad token on ``/graphql`` answered ``{"error": {...}}``, and GraphQL clients,
which read ``errors[]``, lost the code.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import GRAPHQL_RESPONSE, token_for
from tests.identity_fixtures import OPERATOR, PASSWORD, identity_settings, make_user

JSON = "application/json"
ME = {"query": "{ me { principal } }"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


def graphql_code(response: Any, media: str) -> str:
    """The one error's code, after checking the response is GraphQL's envelope in ``media``."""
    assert response.headers["content-type"] == media, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert error["message"], error
    return str(error["extensions"]["code"])


@pytest.mark.parametrize("media", [GRAPHQL_RESPONSE, JSON])
def test_credential_refusals_on_graphql_are_graphql_errors(
    https_client: TestClient, kernel: Kernel, tree: Tree, media: str
) -> None:
    accept = {"Accept": media}
    for authorization, code in (
        ("Basic YWRtaW46YWRtaW4=", "auth.unsupported_scheme"),
        ("Bearer not-a-token", "auth.token_malformed"),
        ("Bearer nt_0123abcd_" + "x" * 43, "auth.token_unknown"),
    ):
        refused = https_client.post("/graphql", json=ME, headers={**accept, "Authorization": authorization})
        assert refused.status_code == 401, refused.text
        assert graphql_code(refused, media) == code
        assert refused.headers["www-authenticate"].startswith("Bearer error=")
        # The same refusal elsewhere: the other envelope, the same code.
        elsewhere = https_client.get("/auth/me", headers={"Authorization": authorization})
        assert elsewhere.status_code == 401 and elsewhere.json()["error"]["code"] == code


@pytest.mark.parametrize("media", [GRAPHQL_RESPONSE, JSON])
def test_a_suspended_tenant_is_a_graphql_error(
    https_client: TestClient, kernel: Kernel, tree: Tree, media: str
) -> None:
    token = token_for(kernel, "00001", "admin")
    kernel.tenants.suspend("01", actor=OPERATOR, reason="inspection")
    refused = https_client.post("/graphql", json=ME, headers={"Accept": media, "Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert graphql_code(refused, media) == "auth.tenant_suspended"
    assert "'00001'" in refused.json()["errors"][0]["message"]  # a tenant code, never an internal id


@pytest.mark.parametrize("media", [GRAPHQL_RESPONSE, JSON])
def test_a_missing_csrf_token_is_a_graphql_error(
    https_client: TestClient, kernel: Kernel, tree: Tree, media: str
) -> None:
    make_user(kernel, "officer", "00001")
    assert https_client.post("/auth/login", json={"username": "officer", "password": PASSWORD}).status_code == 200
    refused = https_client.post("/graphql", json=ME, headers={"Accept": media, "X-Tenant": "00001"})
    assert refused.status_code == 403
    assert graphql_code(refused, media) == "auth.csrf"
    # With the session's CSRF token (``/auth/me`` tells it) the same request answers.
    csrf = https_client.get("/auth/me").json()["csrf_token"]
    allowed = https_client.post(
        "/graphql", json=ME, headers={"Accept": media, "X-Tenant": "00001", "X-CSRF-Token": csrf}
    )
    assert allowed.status_code == 200 and "errors" not in allowed.json(), allowed.text
