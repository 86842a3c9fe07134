"""The API-token part of the kernel schema: everything ``nentang token`` does, over GraphQL — list a
tenant's tokens page by page, create one (its secret shown once, working as a bearer token at once),
revoke one (refused from then on) — with delegated administration, tenant isolation, clear errors
that change nothing, and an audit entry for every creation and revocation."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.authz.permissions import GRANTS_MANAGE, TENANTS_READ, TOKENS_MANAGE
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import OPERATOR, GraphQL, codes, token_for
from tests.identity_fixtures import (
    actions,
    audit_entries,
    changes,
    grant_rows,
    identity_settings,
    make_admin,
    make_role,
    refusal_actions,
    token_rows,
)

TOKEN = "id name prefix roles createdBy createdAt expiresAt lastUsedAt revokedAt revokedBy tenant { code }"
CREATE = (
    f"""mutation($input: CreateApiTokenInput!) {{ createApiToken(input: $input) {{ token {{ {TOKEN} }} secret }} }}"""
)
REVOKE = f"mutation($id: Int!) {{ revokeApiToken(id: $id) {{ {TOKEN} }} }}"
PAGE = "edges { cursor node { name } } pageInfo { hasNextPage endCursor }"
ME = "{ me { principal permissions tenant { code } } }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def province(kernel: Kernel, tree: Tree) -> str:
    """An administrator of province 01 (and so of its communes), not of province 02."""
    return token_for(kernel, "01", "admin")


@pytest.fixture
def gql(client: TestClient, province: str) -> GraphQL:
    return GraphQL(client, token=province)


def new_token(**changes: Any) -> dict[str, Any]:
    return {"tenant": "00001", "name": "lgsp connector", "roles": ["viewer"], "days": 30, **changes}


def names(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in page["edges"]]


def state(kernel: Kernel, tree: Tree) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the token and grant rows, the audit chains
    (but for the record of the refusal itself, which tests look at on their own)."""
    chains = (changes(kernel, t.id) for t in (tree.central, tree.p1, tree.c1, tree.p2, tree.c3))
    return (token_rows(kernel), grant_rows(kernel), *chains)


# -- creating ------------------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_works_as_a_bearer_token_at_once(
    gql: GraphQL, kernel: Kernel, province: str, tree: Tree
) -> None:
    payload = gql.data(CREATE, {"input": new_token(roles=["viewer", "auditor"])})["createApiToken"]
    token, secret = payload["token"], payload["secret"]
    assert secret.startswith(f"{token['prefix']}_") and token["prefix"].startswith("nt_")
    assert (token["name"], token["roles"], token["tenant"]) == (
        "lgsp connector",
        ["viewer", "auditor"],
        {"code": "00001"},
    )
    assert token["createdBy"] == f"token:{kernel.tokens.authenticate(province).id}"
    assert (token["lastUsedAt"], token["revokedAt"], token["revokedBy"]) == (None, None, None)
    assert token["expiresAt"] > token["createdAt"]
    me = gql.data(ME, token=secret)["me"]
    assert me == {
        "principal": f"token:{token['id']}",
        "permissions": ["kernel.audit.read", "kernel.tenants.read", "kernel.users.read"],
        "tenant": {"code": "00001"},
    }
    listed = gql.post(f'{{ apiTokens(first: 10, tenant: "00001") {{ edges {{ node {{ {TOKEN} }} }} }} }}')
    hidden = secret.removeprefix(f"{token['prefix']}_")  # base64url: it may itself hold "_"
    assert secret not in listed.text and hidden not in listed.text  # never readable again
    [node] = [edge["node"] for edge in listed.json()["data"]["apiTokens"]["edges"]]
    assert node["id"] == token["id"] and node["lastUsedAt"] is not None  # it was just used
    [(_, actor, target, detail)] = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "token.create"]
    assert (actor, target) == (token["createdBy"], "lgsp connector")
    assert detail["token_id"] == token["id"] and detail["roles"] == ["viewer", "auditor"]


def test_creating_is_refused_clearly_and_changes_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    gql.data(CREATE, {"input": new_token(name="taken")})
    viewer = token_for(kernel, "01", "viewer")
    before = state(kernel, tree)
    cases = [
        (None, new_token(tenant="00003"), "permission.denied"),  # another province's commune
        (None, new_token(tenant="TW"), "permission.denied"),  # above it
        (viewer, new_token(), "permission.denied"),
        (viewer, new_token(days=0), "permission.denied"),  # permission before validation
        (None, new_token(name="taken"), "token.name_taken"),
        (None, new_token(name=" "), "token.bad_name"),
        (None, new_token(roles=[]), "token.bad_roles"),
        (None, new_token(days=0), "token.bad_expiry"),
        (None, new_token(days=366), "token.bad_expiry"),
        (None, new_token(tenant="99"), "tenant.not_found"),
    ]
    for token, wanted, code in cases:
        response = gql.post(CREATE, {"input": wanted}, token=token)
        assert response.status_code == 200 and response.json()["data"] == {"createApiToken": None}
        assert codes(response) == [code], (wanted, response.json())
    assert state(kernel, tree) == before


def test_a_token_gets_no_permission_its_creator_does_not_hold(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    admin = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    giving_roles = [TOKENS_MANAGE, GRANTS_MANAGE, TENANTS_READ]  # giving a token roles is granting
    make_role(kernel, admin.actor, tree.p1.id, "integrations", giving_roles)
    manager = token_for(kernel, "01", "integrations")
    before = (token_rows(kernel), grant_rows(kernel))
    escalation = gql.post(CREATE, {"input": new_token(roles=["viewer", "auditor"])}, token=manager)
    assert (
        codes(escalation) == ["authz.escalation"] and "kernel.audit.read" in escalation.json()["errors"][0]["message"]
    )
    assert (token_rows(kernel), grant_rows(kernel)) == before
    assert "token.create" not in actions(kernel, tree.c1.id)
    assert gql.data(CREATE, {"input": new_token(roles=["viewer"])}, token=manager)["createApiToken"]["token"][
        "roles"
    ] == ["viewer"]


# -- listing -------------------------------------------------------------------------------------------


def test_a_tenants_tokens_page_by_age(gql: GraphQL, kernel: Kernel, province: str) -> None:
    for n in range(5):
        kernel.tokens.create_as_operator(
            OPERATOR, tenant_code="00002", name=f"t{n}", roles=["viewer"], expires_in_days=9
        )
    kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="01", name="at the province", roles=["viewer"], expires_in_days=9
    )
    pages, after = [], None
    while True:
        cursor = f', after: "{after}"' if after else ""
        page = gql.data(f'{{ apiTokens(first: 2, tenant: "00002"{cursor}) {{ {PAGE} }} }}')["apiTokens"]
        pages.append(names(page))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    # Without `tenant`: the request's (the calling token's own tenant, with the caller among its tokens).
    here = gql.data(f"{{ apiTokens(first: 10) {{ {PAGE} }} }}")["apiTokens"]
    assert names(here)[-1] == "at the province" and names(here)[0].startswith("tests 01")
    assert gql.data(f'{{ apiTokens(first: 10, tenant: "00001") {{ {PAGE} }} }}')["apiTokens"]["edges"] == []


def test_listing_errors_and_isolation(gql: GraphQL, kernel: Kernel) -> None:
    other = kernel.tokens.create_as_operator(OPERATOR, tenant_code="02", name="tq", roles=["viewer"], expires_in_days=9)
    viewer = token_for(kernel, "01", "viewer")
    assert codes(gql.post('{ apiTokens(first: 1, tenant: "99") { edges { cursor } } }')) == ["tenant.not_found"]
    for cursor in ("not-a-cursor", "WyJhIl0"):  # garbage, and ["a"] (a user list's cursor)
        refused = gql.post(f'{{ apiTokens(first: 1, after: "{cursor}") {{ edges {{ cursor }} }} }}')
        assert codes(refused) == ["graphql.bad_cursor"], cursor
    too_many = gql.post("{ apiTokens(first: 101) { edges { cursor } } }")
    assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"]
    for token, query in [
        (None, '{ apiTokens(first: 5, tenant: "02") { edges { node { name } } } }'),  # another province
        (None, '{ apiTokens(first: 5, tenant: "00003") { edges { node { name } } } }'),
        (None, '{ apiTokens(first: 5, tenant: "TW") { edges { node { name } } } }'),  # above it
        (viewer, "{ apiTokens(first: 5) { edges { node { name } } } }"),
    ]:
        denied = gql.post(query, token=token)
        assert denied.status_code == 200 and codes(denied) == ["permission.denied"], query
        assert other.token.prefix not in denied.text
    anonymous = gql.post("{ apiTokens(first: 5) { edges { cursor } } }", anonymous=True, tenant="01")
    assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"]


# -- revoking ------------------------------------------------------------------------------------------


def test_a_revoked_token_is_refused_from_then_on(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    created = gql.data(CREATE, {"input": new_token()})["createApiToken"]
    token_id, secret = created["token"]["id"], created["secret"]
    assert gql.data(ME, token=secret)["me"]["principal"] == f"token:{token_id}"
    revoked = gql.data(REVOKE, {"id": token_id})["revokeApiToken"]
    assert (
        revoked["revokedAt"] is not None
        and revoked["roles"] == []
        and revoked["revokedBy"] == created["token"]["createdBy"]
    )
    refused = gql.post(ME, token=secret)
    # Refused by the authentication middleware, before GraphQL, still in GraphQL's envelope.
    assert refused.status_code == 401 and codes(refused) == ["auth.token_revoked"]
    again = gql.post(REVOKE, {"id": token_id})
    assert codes(again) == ["token.already_revoked"] and again.json()["data"] == {"revokeApiToken": None}
    assert codes(gql.post(REVOKE, {"id": 9999})) == ["token.not_found"]
    revocations = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "token.revoke"]
    assert [(target, detail["token_id"]) for _, _, target, detail in revocations] == [("lgsp connector", token_id)]


def test_revoking_needs_the_permission_at_the_tokens_tenant(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    other = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="00003", name="tq", roles=["viewer"], expires_in_days=9
    )
    mine = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="00001", name="hn", roles=["viewer"], expires_in_days=9
    )
    viewer = token_for(kernel, "00001", "viewer")
    before = state(kernel, tree)
    unknown = gql.post(REVOKE, {"id": 9999}, token=viewer)
    for token, token_id in [(None, other.token.id), (viewer, mine.token.id)]:
        denied = gql.post(REVOKE, {"id": token_id}, token=token)
        # A token one may not manage is answered exactly like an id nobody holds (no oracle)...
        assert codes(denied) == ["token.not_found"] and denied.json()["data"] == {"revokeApiToken": None}
        assert denied.json()["errors"][0]["message"] == f"no API token with id {token_id}"
    assert (
        codes(unknown) == ["token.not_found"] and unknown.json()["errors"][0]["message"] == "no API token with id 9999"
    )
    # ...and the attempts are recorded where each token lives (and where the actor does).
    assert refusal_actions(kernel, tree.c3.id) == ["token.refused"]
    assert refusal_actions(kernel, tree.c1.id) == ["token.refused"]
    anonymous = gql.post(REVOKE, {"id": mine.token.id}, anonymous=True, tenant="00001")
    assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"]
    assert state(kernel, tree) == before
    for plaintext in (other.plaintext, mine.plaintext):  # both still work
        assert kernel.tokens.authenticate(plaintext).revoked_at is None
