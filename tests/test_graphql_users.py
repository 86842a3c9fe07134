"""The user part of the kernel schema: everything ``nentang user`` does but granting, over GraphQL —
reading and paging (a tenant's users or a subtree's), creating, resetting a password, disabling,
enabling, linking an OIDC account — with delegated administration (a province administrator acts
on its province's users only), clear errors that change nothing, and a page of users that costs
one tenant statement however many users it holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from nentang.kernel.identity.models import User
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, codes, counting_settings, statements, token_for
from tests.identity_fixtures import OPERATOR, PASSWORD, actions, audit_entries, make_user

ISSUER = "https://sso.example.gov.vn"
FIELDS = """id username displayName email status hasPassword oidc { issuer subject } createdAt lastLoginAt
    homeTenant { code name }"""
PAGE = "edges { cursor node { username } } pageInfo { hasNextPage endCursor }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return counting_settings(database_url)


@pytest.fixture
def people(kernel: Kernel, tree: Tree) -> None:
    """Users homed across the tree: two at province 01, one in each commune, one at province 02."""
    for username, code in [
        ("an.01", "01"),
        ("binh.01", "01"),
        ("chi.00001", "00001"),
        ("dung.00002", "00002"),
        ("em.02", "02"),
        ("giang.00003", "00003"),
    ]:
        make_user(kernel, username, code)


@pytest.fixture
def gql(client: TestClient, kernel: Kernel, people: None) -> GraphQL:
    return GraphQL(client, token=token_for(kernel, "TW", "admin"))


@pytest.fixture
def province(kernel: Kernel, people: None) -> str:
    """An administrator of province 01 (and so of its communes), not of province 02."""
    return token_for(kernel, "01", "admin")


def usernames(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["username"] for edge in page["edges"]]


def all_pages(gql: GraphQL, arguments: str, first: int, **kwargs: Any) -> list[list[str]]:
    pages, after = [], None
    while True:
        cursor = f', after: "{after}"' if after else ""
        page = gql.data(f"{{ users(first: {first}{cursor}{arguments}) {{ {PAGE} }} }}", **kwargs)["users"]
        pages.append(usernames(page))
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def user_count(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


# -- reading ------------------------------------------------------------------------------------------


def test_a_user_with_every_field(gql: GraphQL, kernel: Kernel) -> None:
    kernel.users.link_oidc_as_operator(OPERATOR, "chi.00001", issuer=ISSUER, subject="079123")
    user = gql.data(f'{{ user(username: "chi.00001") {{ {FIELDS} }} }}')["user"]
    assert user["id"] == kernel.users.get("chi.00001").id
    assert (user["username"], user["displayName"], user["email"]) == ("chi.00001", "Chi.00001", None)
    assert (user["status"], user["hasPassword"], user["lastLoginAt"]) == ("ACTIVE", True, None)
    assert user["oidc"] == {"issuer": ISSUER, "subject": "079123"}
    assert user["homeTenant"] == {"code": "00001", "name": "Phường Một"} and user["createdAt"].endswith("+00:00")


def test_users_of_a_tenant_or_of_a_subtree_page_by_username(gql: GraphQL, kernel: Kernel, province: str) -> None:
    assert all_pages(gql, ', tenant: "01"', 1) == [["an.01"], ["binh.01"]]
    assert all_pages(gql, ', tenant: "01", subtree: true', 3) == [["an.01", "binh.01", "chi.00001"], ["dung.00002"]]
    everyone = all_pages(gql, ', tenant: "TW", subtree: true', 4)
    assert [name for page in everyone for name in page] == [
        "an.01",
        "binh.01",
        "chi.00001",
        "dung.00002",
        "em.02",
        "giang.00003",
    ]
    assert all_pages(gql, ', tenant: "TW"', 10) == [[]]  # nobody is homed at the central tenant itself
    # Without `tenant`: the tenant of the request (the token's).
    assert all_pages(gql, "", 10, token=province) == [["an.01", "binh.01"]]
    empty = gql.data(f'{{ users(first: 0, tenant: "01") {{ {PAGE} }} }}')["users"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}


def test_unknown_users_tenants_cursors_and_page_sizes_are_clear_errors(gql: GraphQL) -> None:
    missing = gql.post('{ user(username: "nobody") { id } }')
    assert missing.status_code == 200 and missing.json()["data"] == {"user": None}
    assert codes(missing) == ["user.not_found"] and "'nobody'" in missing.json()["errors"][0]["message"]
    assert codes(gql.post('{ users(first: 5, tenant: "99") { edges { cursor } } }')) == ["tenant.not_found"]
    for cursor in ("not-a-cursor", "WzEsMl0", "WzFd"):  # garbage, [1,2], and [1] (a token list's cursor)
        refused = gql.post(f'{{ users(first: 1, tenant: "01", after: "{cursor}") {{ edges {{ cursor }} }} }}')
        assert codes(refused) == ["graphql.bad_cursor"], cursor
    for first in (101, -1):
        too_many = gql.post(f'{{ users(first: {first}, tenant: "01") {{ edges {{ cursor }} }} }}')
        assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"], first


def test_reading_needs_the_permission_where_the_user_is_homed(gql: GraphQL, kernel: Kernel) -> None:
    auditor, viewer = token_for(kernel, "01", "auditor"), token_for(kernel, "01", "viewer")
    # A grant at the province reads the users of its communes (an ancestor's grant counts).
    assert gql.data('{ user(username: "chi.00001") { username } }', token=auditor) == {
        "user": {"username": "chi.00001"}
    }
    assert all_pages(gql, ', tenant: "00002"', 5, token=auditor) == [["dung.00002"]]
    # Tenant isolation: nothing of province 02, nothing above, nothing without kernel.users.read.
    for token, query in [
        (auditor, '{ users(first: 5, tenant: "02") { edges { cursor } } }'),
        (auditor, '{ users(first: 5, tenant: "TW", subtree: true) { edges { cursor } } }'),
        (viewer, "{ users(first: 5) { edges { cursor } } }"),
    ]:
        denied = gql.post(query, token=token)
        assert denied.status_code == 200 and codes(denied) == ["permission.denied"], query
        assert "giang" not in denied.text and "em.02" not in denied.text
    # A user one may not read is answered exactly like a username nobody holds: no enumeration.
    nobody = gql.post('{ user(username: "nobody.here") { username } }', token=auditor).json()["errors"][0]
    for token, username in [(auditor, "giang.00003"), (auditor, "em.02"), (viewer, "an.01")]:
        hidden = gql.post(f'{{ user(username: "{username}") {{ username email }} }}', token=token)
        error = hidden.json()["errors"][0]
        assert codes(hidden) == ["user.not_found"] and hidden.json()["data"] == {"user": None}, username
        assert error["message"] == nobody["message"].replace("nobody.here", username)


def test_an_anonymous_caller_reads_and_changes_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    before = (user_count(kernel), actions(kernel, tree.p1.id))
    for query in (
        '{ user(username: "an.01") { username } }',
        '{ users(first: 5, tenant: "01") { edges { cursor } } }',
        'mutation { disableUser(username: "an.01") { status } }',
        'mutation { createUser(input: {username: "x.y.z", displayName: "X", homeTenant: "01"}) { user { id } } }',
    ):
        refused = gql.post(query, anonymous=True, tenant="01")
        assert refused.status_code == 401 and codes(refused) == ["auth.required"], query
    assert (user_count(kernel), actions(kernel, tree.p1.id)) == before
    assert kernel.users.get("an.01").status == "active"


def test_a_page_of_users_costs_the_same_statements_however_many_users_and_tenants(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    query = '{ users(first: 100, tenant: "TW", subtree: true) { edges { node { username homeTenant { code } } } } }'
    gql.data(query)  # the worker now knows the token and whether its tenant serves: both measures start warm
    with statements(kernel) as small, statements(kernel, "kernel_user") as small_users:
        few = gql.data(query)["users"]["edges"]
    for n in range(60):
        make_user(kernel, f"officer{n:02d}", ("00001", "00002", "00003", "01", "02")[n % 5], password=None)
    with statements(kernel) as large, statements(kernel, "kernel_user") as large_users:
        many = gql.data(query)["users"]["edges"]
    assert len(few) == 6 and len(many) == 66
    assert {edge["node"]["homeTenant"]["code"] for edge in many} == {"00001", "00002", "00003", "01", "02"}
    # The request's tenant, the listed tenant (the resolver's and the service's look-ups), the page
    # (its subtree condition reads the tenant table), one batch for every home tenant: never one per user.
    assert len(large) == len(small) <= 5, large
    assert len(large_users) == len(small_users) == 1, large_users


# -- changing users -----------------------------------------------------------------------------------


CREATE = """mutation($input: CreateUserInput!) { createUser(input: $input) {
    user { username displayName email status hasPassword homeTenant { code } } generatedPassword } }"""


def new_user(**changes: Any) -> dict[str, Any]:
    return {"username": "hoa.00001", "displayName": "Nguyễn Thị Hoa", "homeTenant": "00001", **changes}


def test_a_province_administrator_creates_a_user_of_its_commune_and_the_act_is_audited(
    gql: GraphQL, kernel: Kernel, province: str, tree: Tree
) -> None:
    created = gql.data(CREATE, {"input": new_user(email="hoa@example.vn", password=PASSWORD)}, token=province)
    assert created["createUser"] == {
        "user": {
            "username": "hoa.00001",
            "displayName": "Nguyễn Thị Hoa",
            "email": "hoa@example.vn",
            "status": "ACTIVE",
            "hasPassword": True,
            "homeTenant": {"code": "00001"},
        },
        "generatedPassword": None,
    }
    assert kernel.login.authenticate("hoa.00001", PASSWORD).home_tenant_id == tree.c1.id
    created_here = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "user.create"]
    assert [target for _, _, target, _ in created_here] == ["chi.00001", "hoa.00001"]
    _, actor, _, detail = created_here[-1]
    assert detail["with_password"] is True and actor == f"token:{kernel.tokens.authenticate(province).id}"


def test_a_generated_password_is_shown_once_and_works(gql: GraphQL, kernel: Kernel, province: str) -> None:
    payload = gql.data(CREATE, {"input": new_user(generatePassword=True)}, token=province)["createUser"]
    generated = payload["generatedPassword"]
    assert isinstance(generated, str) and len(generated) >= 20 and payload["user"]["hasPassword"] is True
    assert kernel.login.authenticate("hoa.00001", generated).username == "hoa.00001"
    again = gql.post('{ user(username: "hoa.00001") { username } }', token=province)
    assert generated not in again.text
    oidc_only = gql.data(CREATE, {"input": new_user(username="oidc.only")}, token=province)["createUser"]
    assert oidc_only == {**oidc_only, "generatedPassword": None} and oidc_only["user"]["hasPassword"] is False


def test_creating_is_refused_clearly_and_changes_nothing(
    gql: GraphQL, kernel: Kernel, province: str, tree: Tree
) -> None:
    viewer = token_for(kernel, "01", "viewer")
    before = (user_count(kernel), *(actions(kernel, t.id) for t in (tree.p1, tree.c1, tree.p2, tree.c3)))
    cases = [
        (province, new_user(homeTenant="00003"), "permission.denied"),  # another province's commune
        (province, new_user(homeTenant="TW"), "permission.denied"),  # above it
        (viewer, new_user(), "permission.denied"),
        (viewer, new_user(password="short"), "permission.denied"),  # permission before validation
        (province, new_user(username="chi.00001"), "user.taken"),
        # taken by a user of another province: not said (the same answer as for a reserved name)
        (province, new_user(username="em.02"), "user.unavailable"),
        (province, new_user(password="short"), "user.password_policy"),
        (province, new_user(password="Hoa.00001"), "user.password_policy"),  # the username
        (province, new_user(password=PASSWORD, generatePassword=True), "user.password_choice"),
        (province, new_user(username="-Hoa"), "user.bad_username"),
        (province, new_user(displayName=" "), "user.bad_display_name"),
        (province, new_user(email="not an address"), "user.bad_email"),
        (province, new_user(homeTenant="99"), "tenant.not_found"),
    ]
    for token, user, code in cases:
        response = gql.post(CREATE, {"input": user}, token=token)
        assert response.status_code == 200 and response.json()["data"] == {"createUser": None}
        assert codes(response) == [code], (user, response.json())
    after = (user_count(kernel), *(actions(kernel, t.id) for t in (tree.p1, tree.c1, tree.p2, tree.c3)))
    refusals = [a for a in after[1] if a == "graphql.refused"]
    assert refusals, "a refused attempt to create a user is a security event, audited"
    # Nothing else changed: no user, no other entry in any chain.
    assert (after[0], *([a for a in chain if a != "graphql.refused"] for chain in after[1:])) == before


def test_set_a_password_given_or_generated_and_refusals(gql: GraphQL, kernel: Kernel, province: str) -> None:
    mutation = """mutation($u: String!, $p: String, $g: Boolean!) {
        setUserPassword(username: $u, password: $p, generatePassword: $g) { user { username } generatedPassword } }"""
    given = "a new passphrase of several words"
    done = gql.data(mutation, {"u": "chi.00001", "p": given, "g": False}, token=province)["setUserPassword"]
    assert done == {"user": {"username": "chi.00001"}, "generatedPassword": None}
    assert kernel.login.authenticate("chi.00001", given).username == "chi.00001"
    generated = gql.data(mutation, {"u": "chi.00001", "p": None, "g": True}, token=province)["setUserPassword"]
    assert kernel.login.authenticate("chi.00001", generated["generatedPassword"]).username == "chi.00001"
    entries = [
        e for e in audit_entries(kernel, kernel.users.get("chi.00001").home_tenant_id) if e[0] == "user.set_password"
    ]
    assert len(entries) == 2 and all(actor.startswith("token:") for _, actor, _, _ in entries)
    for variables, code in [
        ({"u": "giang.00003", "p": given, "g": False}, "user.not_found"),  # isolation: not even seen
        ({"u": "em.02", "p": None, "g": False}, "user.not_found"),  # permission before validation
        ({"u": "nobody", "p": given, "g": False}, "user.not_found"),
        ({"u": "dung.00002", "p": "short", "g": False}, "user.password_policy"),
        ({"u": "dung.00002", "p": None, "g": False}, "user.password_choice"),
        ({"u": "dung.00002", "p": given, "g": True}, "user.password_choice"),
    ]:
        assert codes(gql.post(mutation, variables, token=province)) == [code], variables
    for username in ("giang.00003", "dung.00002"):  # still their first password
        assert kernel.login.authenticate(username, PASSWORD).username == username
    with pytest.raises(PermissionDenied):
        kernel.login.authenticate("giang.00003", given)


def test_disable_and_enable_a_user(gql: GraphQL, kernel: Kernel, province: str, tree: Tree) -> None:
    disabled = gql.data(
        'mutation { disableUser(username: "an.01", reason: "left the office") { status } }', token=province
    )
    assert disabled == {"disableUser": {"status": "DISABLED"}} and kernel.users.get("an.01").status == "disabled"
    with pytest.raises(PermissionDenied):
        kernel.login.authenticate("an.01", PASSWORD)
    again = gql.post('mutation { disableUser(username: "an.01") { status } }', token=province)
    assert codes(again) == ["user.unchanged"] and "already disabled" in again.json()["errors"][0]["message"]
    assert gql.data('mutation { enableUser(username: "an.01") { status } }', token=province) == {
        "enableUser": {"status": "ACTIVE"}
    }
    assert codes(gql.post('mutation { enableUser(username: "an.01") { status } }', token=province)) == [
        "user.unchanged"
    ]
    disables = [e for e in audit_entries(kernel, tree.p1.id) if e[0] in ("user.disable", "user.enable")]
    assert [(a, t, d.get("reason")) for a, _, t, d in disables] == [
        ("user.disable", "an.01", "left the office"),
        ("user.enable", "an.01", None),
    ]


def test_a_province_administrator_cannot_change_a_user_of_another_province(
    gql: GraphQL, kernel: Kernel, province: str, tree: Tree
) -> None:
    auditor = token_for(kernel, "01", "auditor")
    before = actions(kernel, tree.p2.id), actions(kernel, tree.c3.id), actions(kernel, tree.p1.id)
    # Users one may not even read are answered like names nobody holds (no probing across provinces);
    # a user one reads but may not manage is a plain refusal.
    for token, field, mutation, code in [
        (province, "disableUser", 'disableUser(username: "giang.00003") { status }', "user.not_found"),
        (province, "disableUser", 'disableUser(username: "em.02") { status }', "user.not_found"),
        (
            province,
            "linkOidcAccount",
            f'linkOidcAccount(username: "em.02", issuer: "{ISSUER}", subject: "1") {{ id }}',
            "user.not_found",
        ),
        (
            province,
            "setUserPassword",
            'setUserPassword(username: "em.02", generatePassword: true) { generatedPassword }',
            "user.not_found",
        ),
        (auditor, "disableUser", 'disableUser(username: "an.01") { status }', "permission.denied"),
    ]:
        denied = gql.post(f"mutation {{ {mutation} }}", token=token)
        assert codes(denied) == [code] and denied.json()["data"] == {field: None}, mutation
    after = actions(kernel, tree.p2.id), actions(kernel, tree.c3.id), actions(kernel, tree.p1.id)
    added = [sorted(chain[len(old) :]) for chain, old in zip(after, before, strict=True)]
    assert [chain[: len(old)] for chain, old in zip(after, before, strict=True)] == list(before)
    # Every attempt is audited where the user lives and where the actor does (province 01), and
    # nothing else was written: three attempts on em.02 (02), one on giang.00003 (00003), and the
    # auditor's plain refusal.
    assert added == [["user.refused"] * 3, ["user.refused"], ["graphql.refused", *["user.refused"] * 4]]
    for username in ("giang.00003", "em.02", "an.01"):
        user = kernel.users.get(username)
        assert (user.status, user.oidc_issuer) == ("active", None)
        assert kernel.login.authenticate(username, PASSWORD).username == username


def test_link_an_oidc_account(gql: GraphQL, kernel: Kernel, province: str, tree: Tree) -> None:
    link = """mutation($u: String!, $i: String!, $s: String!) {
        linkOidcAccount(username: $u, issuer: $i, subject: $s) { oidc { issuer subject } } }"""
    linked = gql.data(link, {"u": "an.01", "i": ISSUER, "s": "001099"}, token=province)
    assert linked == {"linkOidcAccount": {"oidc": {"issuer": ISSUER, "subject": "001099"}}}
    for variables, code in [
        ({"u": "binh.01", "i": ISSUER, "s": "001099"}, "user.oidc_taken"),
        ({"u": "an.01", "i": ISSUER, "s": "001099"}, "user.unchanged"),
        ({"u": "binh.01", "i": "ftp://sso", "s": "1"}, "user.bad_oidc_issuer"),
        ({"u": "binh.01", "i": ISSUER, "s": ""}, "user.bad_oidc_subject"),
    ]:
        assert codes(gql.post(link, variables, token=province)) == [code], variables
    assert kernel.users.get("binh.01").oidc_issuer is None
    assert [t for a, _, t, _ in audit_entries(kernel, tree.p1.id) if a == "user.link_oidc"] == ["an.01"]
