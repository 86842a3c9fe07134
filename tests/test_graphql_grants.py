"""Grants over GraphQL: listing who holds which role where, granting and revoking under the
delegation rules — refusals audited, nothing changed by a refusal, a change in force on the
principal's very next request, and a page of grants costing the same statements at any size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.authz_helpers import authz_state, refusals
from tests.conftest import Tree
from tests.graphql_authz import (
    GRANT_ROLE,
    GRANTS,
    REVOKE,
    create_role,
    grant_role,
    grants_at,
    principal_of,
    refused,
)
from tests.graphql_fixtures import GraphQL, codes, statements, token_for
from tests.identity_fixtures import (
    PASSWORD,
    audit_entries,
    identity_settings,
    make_admin,
    make_user,
    refusal_actions,
)

CAN_CREATE_TENANT = (
    'mutation($code: String!) { createTenant(input: {code: $code, name: "Ban", parent: "02"}) { code } }'
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No reuse of resolved tenants: every request costs the same statements (the count below).
    return identity_settings(database_url).with_overrides(graphql=GraphQLSettings(tenant_cache_seconds=0))


@pytest.fixture
def http(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def gql(http: TestClient, kernel: Kernel, tree: Tree) -> GraphQL:
    return GraphQL(http, token=token_for(kernel, "TW", "admin"))


def summary(grants: list[dict[str, Any]]) -> list[tuple[str, str | None, str, str]]:
    """(principal, username, role, tenant) of each grant."""
    return [(g["principal"], (g["user"] or {}).get("username"), g["role"]["name"], g["tenant"]["code"]) for g in grants]


# -- granting, listing, revoking --------------------------------------------------------------------


def test_a_province_administrator_grants_lists_and_revokes_below_it(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "can.bo", "00001", password=None)
    province = token_for(kernel, "01", "admin")
    me = principal_of(gql, province)
    granted = grant_role(gql, "00001", "viewer", token=province, username="can.bo")
    assert {k: v for k, v in granted.items() if k != "id"} == {
        "principal": officer.principal,
        "grantedBy": me,
        "user": {"username": "can.bo"},
        "role": {"name": "viewer"},
        "tenant": {"code": "00001"},
    }
    by_principal = grant_role(gql, "00002", "auditor", token=province, principal=officer.principal)
    assert summary(grants_at(gql, "00001", token=province)) == [(officer.principal, "can.bo", "viewer", "00001")]
    # At the province itself: its own admin token's grant, not the communes', nor the central ones above.
    assert summary(grants_at(gql, "01", token=province)) == [(me, None, "admin", "01")]
    whole = grants_at(gql, "01", token=province, subtree=True, first=1)
    assert summary(whole) == [
        (me, None, "admin", "01"),
        (officer.principal, "can.bo", "viewer", "00001"),
        (officer.principal, "can.bo", "auditor", "00002"),
    ]
    assert summary(grants_at(gql, "01", token=province, subtree=True, principal=officer.principal)) == [
        (officer.principal, "can.bo", "viewer", "00001"),
        (officer.principal, "can.bo", "auditor", "00002"),
    ]
    assert grants_at(gql, "00001", token=province, principal=me) == []
    revoked = gql.data(REVOKE, {"id": by_principal["id"]}, token=province)["revokeGrant"]
    assert revoked == {k: by_principal[k] for k in ("id", "principal", "role", "tenant")}
    assert (revoked["role"], revoked["tenant"]) == ({"name": "auditor"}, {"code": "00002"})
    assert grants_at(gql, "00002", token=province) == []
    assert [
        (a, actor, target) for a, actor, target, _ in audit_entries(kernel, tree.c2.id) if a.startswith("grant.")
    ] == [
        ("grant.create", me, officer.principal),
        ("grant.revoke", me, officer.principal),
    ]


def test_a_grant_and_a_revocation_are_in_force_on_the_principals_next_request(gql: GraphQL, kernel: Kernel) -> None:
    holder = token_for(kernel, "02", "viewer")
    assert refused(gql, CAN_CREATE_TENANT, {"code": "02.A"}, token=holder) == "permission.denied"
    granted = grant_role(gql, "02", "admin", principal=principal_of(gql, holder))
    assert gql.data(CAN_CREATE_TENANT, {"code": "02.A"}, token=holder) == {"createTenant": {"code": "02.A"}}
    gql.data(REVOKE, {"id": granted["id"]})
    assert refused(gql, CAN_CREATE_TENANT, {"code": "02.B"}, token=holder) == "permission.denied"


def test_a_signed_in_user_grants_by_username(http: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    make_user(kernel, "clerk.hanoi", "00001", password=None)
    login = http.post("/auth/login", json={"username": "admin.hanoi", "password": PASSWORD})
    user = GraphQL(http, tenant="01", headers={"X-CSRF-Token": login.json()["csrf_token"]})
    granted = grant_role(user, "00001", "viewer", username="clerk.hanoi")
    assert (granted["user"], granted["grantedBy"]) == (
        {"username": "clerk.hanoi"},
        f"user:{login.json()['user']['id']}",
    )


# -- refusals ---------------------------------------------------------------------------------------


def test_bad_grant_input_is_refused_clearly_and_changes_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "can.bo", "00001", password=None)
    create_role(gql, "02", "other", "kernel.tenants.read")
    existing = grant_role(gql, "00001", "viewer", username="can.bo")
    province = token_for(kernel, "01", "admin")
    before = authz_state(kernel), audit_entries(kernel, tree.c1.id), audit_entries(kernel, tree.p1.id)
    for who, role, tenant, code in (
        ({"username": "can.bo"}, "no.such.role", "00001", "authz.unknown_role"),
        ({"username": "can.bo"}, "other", "01", "authz.unknown_role"),  # defined in another province
        ({"username": "can.bo"}, "viewer", "00001", "authz.grant_exists"),
        ({"username": "nobody"}, "viewer", "00001", "user.not_found"),
        ({"principal": "user:999999"}, "viewer", "00001", "authz.unknown_principal"),
        ({"principal": "group:admins"}, "viewer", "00001", "validation.failed"),
        ({"principal": officer.principal, "username": "can.bo"}, "viewer", "00001", "validation.failed"),
        ({}, "viewer", "00001", "validation.failed"),
        ({"username": "can.bo"}, "viewer", "99", "tenant.not_found"),
    ):
        variables = {"input": {"role": role, "tenant": tenant, **who}}
        assert refused(gql, GRANT_ROLE, variables, token=province) == code, (who, role, tenant)
    assert refused(gql, REVOKE, {"id": existing["id"] + 1000}, token=province) == "authz.grant_not_found"
    assert (authz_state(kernel), audit_entries(kernel, tree.c1.id), audit_entries(kernel, tree.p1.id)) == before


def test_no_one_grants_beyond_its_subtree_or_its_own_permissions_and_each_refusal_is_audited(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    officer = make_user(kernel, "can.bo", "00003", password=None)
    foreign = grant_role(gql, "00003", "viewer", username="can.bo")
    create_role(gql, "01", "granter", "kernel.grants.manage", "kernel.tenants.read")
    granter, province = token_for(kernel, "01", "granter"), token_for(kernel, "01", "admin")
    viewer = token_for(kernel, "01", "viewer")
    before = authz_state(kernel)
    for token, variables, code, tenant in (
        (province, {"role": "viewer", "tenant": "02", "principal": officer.principal}, "permission.denied", tree.p2),
        (province, {"role": "viewer", "tenant": "00003", "username": "can.bo"}, "permission.denied", tree.c3),
        (province, {"role": "viewer", "tenant": "TW", "username": "can.bo"}, "permission.denied", tree.central),
        (viewer, {"role": "viewer", "tenant": "01", "username": "can.bo"}, "permission.denied", tree.p1),
        (granter, {"role": "admin", "tenant": "01", "principal": officer.principal}, "authz.escalation", tree.p1),
        # raising one's own privileges: the granter hands itself a role it does not hold
        (
            granter,
            {"role": "admin", "tenant": "00001", "principal": principal_of(gql, granter)},
            "authz.escalation",
            tree.c1,
        ),
    ):
        already, recorded = refusals(kernel, tenant.id), refusal_actions(kernel, tenant.id)
        assert refused(gql, GRANT_ROLE, {"input": variables}, token=token) == code, variables
        if "username" in variables:
            # Not a user the province may see: refused before the user is looked up (no oracle),
            # by the GraphQL layer's own check, audited as such.
            assert refusal_actions(kernel, tenant.id) == [*recorded, "graphql.refused"]
            continue
        assert refusals(kernel, tenant.id) == [*already, (principal_of(gql, token), "grant.create", code)]
    already = refusals(kernel, tree.c3.id)
    # A grant one may not manage is answered like an id nobody holds, and the attempt still audited.
    assert refused(gql, REVOKE, {"id": foreign["id"]}, token=province) == "authz.grant_not_found"
    assert refusals(kernel, tree.c3.id) == [
        *already,
        (principal_of(gql, province), "grant.revoke", "permission.denied"),
    ]
    assert authz_state(kernel) == before


def test_a_province_administrator_cannot_read_the_grants_of_another_province(gql: GraphQL, kernel: Kernel) -> None:
    province, viewer = token_for(kernel, "01", "admin"), token_for(kernel, "01", "viewer")
    for token, tenant, subtree in (
        (province, "02", False),
        (province, "00003", False),
        (province, "TW", True),  # the whole tree, from above
        (viewer, "01", False),
    ):
        denied = gql.post(GRANTS, {"tenant": tenant, "first": 10, "subtree": subtree}, token=token)
        assert denied.status_code == 200 and codes(denied) == ["permission.denied"], tenant
        assert denied.json()["data"] is None
    assert codes(gql.post(GRANTS, {"tenant": "99", "first": 10})) == ["tenant.not_found"]
    for cursor in ("not-a-cursor", "WyJhIl0"):  # garbage, and a cursor of another list (["a"])
        assert codes(gql.post(GRANTS, {"tenant": "01", "first": 1, "after": cursor})) == ["graphql.bad_cursor"]
    too_many = gql.post(GRANTS, {"tenant": "01", "first": 101})
    assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"]
    for document, variables in (
        (GRANTS, {"tenant": "01", "first": 10}),
        (GRANT_ROLE, {"input": {"role": "viewer", "tenant": "01", "username": "x"}}),
        (REVOKE, {"id": 1}),
    ):
        anonymous = gql.post(document, variables, anonymous=True, tenant="01")
        assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"], document


def test_the_last_user_administering_the_central_tenant_keeps_its_grant(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    make_admin(kernel, "root", "TW", tree.central.id)
    [last] = [g for g in grants_at(gql, "TW") if g["user"] == {"username": "root"}]
    before = authz_state(kernel)
    assert refused(gql, REVOKE, {"id": last["id"]}) == "authz.last_admin"
    assert authz_state(kernel) == before
    assert refusals(kernel, tree.central.id)[-1][1:] == ("grant.revoke", "authz.last_admin")
    make_user(kernel, "deputy", "TW", password=None)
    grant_role(gql, "TW", "admin", username="deputy")
    assert gql.data(REVOKE, {"id": last["id"]})["revokeGrant"]["id"] == last["id"]


# -- cost -------------------------------------------------------------------------------------------

PAGE = """{ grants(tenant: "TW", subtree: true, first: 100) { edges { node {
    principal user { username } role { name permissions { name } } tenant { code } } } } }"""


def measured(gql: GraphQL, kernel: Kernel) -> tuple[list[dict[str, Any]], list[str]]:
    """The page, and the statements the request ran once the caches are settled and warm."""
    kernel.watcher.poll_now()  # nothing left for the background poll to flush mid-request
    gql.data(PAGE)  # the caller's own grants, the role model and the tenant paths are now cached
    with statements(kernel, "") as seen:
        page: list[dict[str, Any]] = gql.data(PAGE)["grants"]["edges"]
    # Reads of the kernel's tables, but not the watcher's poll (its own thread) nor, on PostgreSQL,
    # the scope settings (set_config) each session opens with.
    return page, [s for s in seen if "kernel_" in s and "kernel_change_version" not in s]


def test_a_page_of_grants_costs_the_same_statements_whatever_its_size(gql: GraphQL, kernel: Kernel) -> None:
    def add_users(start: int, count: int) -> None:
        for n in range(start, start + count):
            make_user(kernel, f"user{n}", "00001", password=None)
            grant_role(gql, ("00001", "01", "02", "00003")[n % 4], ("viewer", "auditor")[n % 2], username=f"user{n}")

    add_users(0, 3)
    small_page, small = measured(gql, kernel)
    add_users(3, 57)
    large_page, large = measured(gql, kernel)
    assert len(small_page) == 4 and len(large_page) == 61  # with the central admin token's own grant
    assert sum(1 for e in large_page if e["node"]["user"]) == 60
    # The token and its tenant (read twice: authentication, then the request's tenant, uncached
    # here), the tenant named, the page, then one statement per loader (users, roles, tenants,
    # role permissions): the same nine for 4 grants as for 61, never one per grant.
    assert len(large) == len(small) <= 9, large
