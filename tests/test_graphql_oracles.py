"""No existence oracles (#13 item 2): what lies outside a caller's reach answers exactly like what
does not exist, with the permission checked first — so a province cannot map another province's
users, grants, tokens or roles by probing ids and names. Each test reproduces a probe the outside
review made: the two answers used to differ.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_authz import GRANT_ROLE, REVOKE, grant_role
from tests.graphql_fixtures import GraphQL, token_for
from tests.identity_fixtures import OPERATOR, identity_settings, make_user, refusal_actions

REVOKE_TOKEN = "mutation($id: Int!) { revokeApiToken(id: $id) { id } }"
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) { user { username } } }"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def gql(https_client: TestClient, kernel: Kernel, tree: Tree) -> GraphQL:
    return GraphQL(https_client, token=token_for(kernel, "TW", "admin"))


def answer(response: Any, *inputs: str) -> tuple[int, Any]:
    """Status and body with the probe's own input (an id, a name) blanked out: what remains must be
    the same for a thing that exists out of reach and a thing that does not exist."""
    text = response.text
    for value in inputs:
        text = re.sub(rf"\b{re.escape(value)}\b", "<input>", text)
    return response.status_code, text


def test_another_provinces_token_is_answered_like_an_id_nobody_holds(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    theirs = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="02", name="lgsp", roles=["viewer"], expires_in_days=9
    )
    province = token_for(kernel, "01", "admin")
    out_of_reach = gql.post(REVOKE_TOKEN, {"id": theirs.token.id}, token=province)
    unknown = gql.post(REVOKE_TOKEN, {"id": 987654}, token=province)
    assert answer(out_of_reach, str(theirs.token.id)) == answer(unknown, "987654")
    assert "token.not_found" in unknown.text and "'02'" not in out_of_reach.text
    assert kernel.tokens.authenticate(theirs.plaintext).revoked_at is None
    assert refusal_actions(kernel, tree.p2.id) == ["token.refused"]  # the province aimed at hears of it


def test_another_provinces_grant_is_answered_like_an_id_nobody_holds(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "em.02", "02", password=None)
    theirs = grant_role(gql, "02", "viewer", username="em.02")
    province = token_for(kernel, "01", "admin")
    out_of_reach = gql.post(REVOKE, {"id": theirs["id"]}, token=province)
    unknown = gql.post(REVOKE, {"id": 987654}, token=province)
    assert answer(out_of_reach, str(theirs["id"])) == answer(unknown, "987654")
    assert "authz.grant_not_found" in unknown.text


def test_granting_by_username_reveals_nothing_about_users_out_of_reach(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    make_user(kernel, "em.02", "02", password=None)
    province = token_for(kernel, "01", "admin")

    def grant_to(username: str, tenant: str, token: str) -> Any:
        return gql.post(GRANT_ROLE, {"input": {"role": "viewer", "tenant": tenant, "username": username}}, token=token)

    # With the permission at the tenant: a user of another province is a name nobody holds.
    assert answer(grant_to("em.02", "00001", province), "em.02") == answer(
        grant_to("ai.do", "00001", province), "ai.do"
    )
    assert "user.not_found" in grant_to("em.02", "00001", province).text
    # Without it (a tenant of the other province): the same refusal, whoever the name is.
    assert answer(grant_to("em.02", "02", province), "em.02") == answer(grant_to("ai.do", "02", province), "ai.do")
    assert "permission.denied" in grant_to("ai.do", "02", province).text


def test_without_the_permission_unknown_principals_and_roles_answer_like_known_ones(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    """The authoriser used to check that the principal and the role exist before the permission."""
    officer = make_user(kernel, "can.bo", "00003", password=None)
    province = token_for(kernel, "01", "admin")

    def grant_at_02(principal: str, role: str) -> Any:
        return gql.post(GRANT_ROLE, {"input": {"role": role, "tenant": "02", "principal": principal}}, token=province)

    known = answer(grant_at_02(officer.principal, "viewer"), officer.principal)
    assert known == answer(grant_at_02("user:987654", "viewer"), "user:987654")
    assert known == answer(grant_at_02(officer.principal, "no.such.role"), officer.principal, "no.such.role")
    assert "permission.denied" in known[1]


def test_creating_a_user_with_a_name_taken_elsewhere_does_not_say_it_is_taken(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    make_user(kernel, "em.02", "02", password=None)
    make_user(kernel, "an.01", "01", password=None)
    province = token_for(kernel, "01", "admin")

    def create(username: str) -> Any:
        user = {"username": username, "displayName": "Nguyễn Văn Em", "homeTenant": "00001"}
        return gql.post(CREATE_USER, {"input": user}, token=province)

    elsewhere = create("em.02")
    assert '"user.unavailable"' in elsewhere.text and "exists" not in elsewhere.text and "'02'" not in elsewhere.text
    assert '"user.taken"' in create("an.01").text  # a user the caller may see: said plainly
