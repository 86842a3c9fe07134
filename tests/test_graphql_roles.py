"""Permissions and roles over GraphQL: the catalogue, the roles usable at a tenant, custom roles
created, changed and deleted under the delegation rules — refusals audited, nothing changed by a
refusal, a changed role in force on its holders' very next request, a role still granted never
deleted, and a role of another province answered as if it did not exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.authz_helpers import authz_state, refusals
from tests.conftest import Tree
from tests.graphql_authz import (
    CREATE_ROLE,
    DELETE_ROLE,
    REVOKE,
    ROLES,
    UPDATE_ROLE,
    create_role,
    grant_role,
    principal_of,
    refused,
    roles_at,
)
from tests.graphql_fixtures import GraphQL, codes, token_for
from tests.identity_fixtures import audit_entries, identity_settings, make_user

CAN_CREATE_TENANT = """mutation($code: String!) { createTenant(input: {code: $code, name: "Ban", parent: "01"}) {
    code } }"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def http(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def gql(http: TestClient, kernel: Kernel, tree: Tree) -> GraphQL:
    return GraphQL(http, token=token_for(kernel, "TW", "admin"))


# -- reading ----------------------------------------------------------------------------------------


def test_any_signed_in_caller_pages_through_the_permission_catalogue(gql: GraphQL, kernel: Kernel) -> None:
    viewer = token_for(kernel, "00001", "viewer")
    names, after = [], None
    while True:
        page = gql.data(
            "query($after: String) { permissions(first: 3, after: $after) { edges { node { name description "
            "declaredBy } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
            token=viewer,
        )["permissions"]
        assert len(page["edges"]) <= 3
        names += [(e["node"]["name"], e["node"]["declaredBy"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == sorted((p.name, "kernel") for p in KERNEL_PERMISSIONS)


def test_the_roles_of_a_tenant_are_the_templates_and_the_custom_roles_at_it_or_above(gql: GraphQL) -> None:
    create_role(gql, "01", "clerk", "kernel.tenants.read")
    create_role(gql, "00001", "ward.clerk", "kernel.tenants.read", "kernel.users.read")
    create_role(gql, "02", "other", "kernel.tenants.read")
    [at_commune] = roles_at(gql, "00001")
    assert [(r["name"], r["kind"], r["declaredBy"]) for r in at_commune] == [
        ("admin", "TEMPLATE", "kernel"),
        ("auditor", "TEMPLATE", "kernel"),
        ("clerk", "CUSTOM", "custom"),
        ("viewer", "TEMPLATE", "kernel"),
        ("ward.clerk", "CUSTOM", "custom"),
    ]
    ward = at_commune[-1]
    assert ward["tenant"] == {"code": "00001"} and at_commune[0]["tenant"] is None
    assert ward["permissions"] == [{"name": "kernel.tenants.read"}, {"name": "kernel.users.read"}]
    assert len(at_commune[0]["permissions"]) == len(KERNEL_PERMISSIONS)
    by_two = roles_at(gql, "01", first=2)
    assert [[r["name"] for r in page] for page in by_two] == [["admin", "auditor"], ["clerk", "viewer"]]


def test_reading_roles_needs_to_manage_roles_or_grants_there(gql: GraphQL, kernel: Kernel) -> None:
    create_role(gql, "01", "granter", "kernel.grants.manage")
    granter, province = token_for(kernel, "01", "granter"), token_for(kernel, "01", "admin")
    assert roles_at(gql, "00002", token=granter)[0] and roles_at(gql, "01", token=province)[0]
    for token, tenant in (
        (token_for(kernel, "01", "viewer"), "01"),
        (token_for(kernel, "TW", "auditor"), "01"),
        (province, "02"),  # another province
        (province, "00003"),  # a commune of another province
        (province, "TW"),  # above it
    ):
        denied = gql.post(ROLES, {"tenant": tenant, "first": 5}, token=token)
        assert denied.status_code == 200 and codes(denied) == ["permission.denied"], tenant
    assert codes(gql.post(ROLES, {"tenant": "99", "first": 5})) == ["tenant.not_found"]


def test_paging_errors_and_anonymous_callers_are_refused(gql: GraphQL) -> None:
    for document, variables in (
        ("query($a: String) { permissions(first: 2, after: $a) { edges { cursor } } }", {}),
        (ROLES, {"tenant": "01", "first": 2}),
    ):
        for cursor in ("not-a-cursor", "WzEsMl0"):  # garbage, and a cursor of another list ([1,2])
            bad = gql.post(document, {**variables, "a": cursor, "after": cursor})
            assert codes(bad) == ["graphql.bad_cursor"], (document, cursor)
    too_many = gql.post('{ roles(tenant: "01", first: 101) { edges { cursor } } }')
    assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"]
    too_many = gql.post(ROLES, {"tenant": "01", "first": 101})
    assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"]
    for document, variables in (
        ("{ permissions(first: 5) { edges { cursor } } }", None),
        (ROLES, {"tenant": "01", "first": 5}),
        (CREATE_ROLE, {"input": {"tenant": "01", "name": "x1", "permissions": ["kernel.tenants.read"]}}),
        (UPDATE_ROLE, {"input": {"tenant": "01", "name": "x1", "permissions": ["kernel.tenants.read"]}}),
    ):
        anonymous = gql.post(document, variables, anonymous=True, tenant="01")
        assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"], document


# -- creating and changing roles --------------------------------------------------------------------


def test_an_administrator_creates_a_role_below_it_and_the_act_is_audited(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    province = token_for(kernel, "01", "admin")
    role = {"tenant": "00001", "name": "ward.clerk", "description": "Ward clerk", "permissions": ["kernel.users.read"]}
    created = gql.data(CREATE_ROLE, {"input": role}, token=province)["createRole"]
    assert {k: created[k] for k in ("name", "description", "kind", "declaredBy", "tenant", "permissions")} == {
        "name": "ward.clerk",
        "description": "Ward clerk",
        "kind": "CUSTOM",
        "declaredBy": "custom",
        "tenant": {"code": "00001"},
        "permissions": [{"name": "kernel.users.read"}],
    }
    assert created["createdBy"] == principal_of(gql, province)
    [(_, actor, target, detail)] = [e for e in audit_entries(kernel, tree.c1.id) if e[0] == "role.create"]
    assert (actor, target, detail["permissions"]) == (created["createdBy"], "ward.clerk", ["kernel.users.read"])
    assert (tree.c1.id, "ward.clerk", "kernel.users.read") in authz_state(kernel)[1]


def test_bad_role_input_is_refused_clearly_and_changes_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    create_role(gql, "01", "clerk", "kernel.tenants.read")
    province = token_for(kernel, "01", "admin")
    before = authz_state(kernel), audit_entries(kernel, tree.p1.id)
    read = ["kernel.tenants.read"]
    for role, code in (
        (
            {"tenant": "01", "name": "x1", "permissions": ["kernel.tenants.read", "forms.fly"]},
            "authz.unknown_permission",
        ),
        ({"tenant": "01", "name": "clerk", "permissions": read}, "authz.role_exists"),
        ({"tenant": "01", "name": "Bad Name!", "permissions": read}, "validation.failed"),
        ({"tenant": "01", "name": "x1", "permissions": []}, "validation.failed"),
        ({"tenant": "01", "name": "x1", "permissions": [f"p.{i}" for i in range(101)]}, "validation.failed"),
        ({"tenant": "99", "name": "x1", "permissions": read}, "tenant.not_found"),
    ):
        assert refused(gql, CREATE_ROLE, {"input": role}, token=province) == code, role
    for role, code in (
        ({"tenant": "01", "name": "clerk", "permissions": ["forms.fly"]}, "authz.unknown_permission"),
        ({"tenant": "01", "name": "clerk", "permissions": []}, "validation.failed"),
        ({"tenant": "01", "name": "nobody", "permissions": read}, "authz.role_not_found"),
        ({"tenant": "00001", "name": "clerk", "permissions": read}, "authz.role_not_found"),  # defined above
        ({"tenant": "01", "name": "viewer", "permissions": read}, "authz.template_read_only"),
    ):
        assert refused(gql, UPDATE_ROLE, {"input": role}, token=province) == code, role
    assert (authz_state(kernel), audit_entries(kernel, tree.p1.id)) == before


def test_no_one_creates_or_widens_a_role_beyond_what_it_holds_and_each_refusal_is_audited(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    create_role(gql, "01", "rolesmith", "kernel.roles.manage", "kernel.tenants.read")
    create_role(gql, "02", "other", "kernel.tenants.read")
    smith, viewer = token_for(kernel, "01", "rolesmith"), token_for(kernel, "01", "viewer")
    province = token_for(kernel, "01", "admin")
    before = authz_state(kernel)
    read, create = "kernel.tenants.read", "kernel.tenants.create"
    for token, document, role, code, tenant in (
        (
            smith,
            CREATE_ROLE,
            {"tenant": "01", "name": "x1", "permissions": [read, create]},
            "authz.escalation",
            tree.p1,
        ),
        # raising one's own privileges: widening the very role one holds
        (
            smith,
            UPDATE_ROLE,
            {"tenant": "01", "name": "rolesmith", "permissions": [read, create]},
            "authz.escalation",
            tree.p1,
        ),
        (smith, CREATE_ROLE, {"tenant": "02", "name": "x1", "permissions": [read]}, "permission.denied", tree.p2),
        (viewer, CREATE_ROLE, {"tenant": "01", "name": "x1", "permissions": [read]}, "permission.denied", tree.p1),
        (
            province,
            UPDATE_ROLE,
            {"tenant": "02", "name": "other", "permissions": [read, create]},
            "permission.denied",
            tree.p2,
        ),
    ):
        already = refusals(kernel, tenant.id)
        assert refused(gql, document, {"input": role}, token=token) == code, role
        attempted = "role.create" if document is CREATE_ROLE else "role.update"
        assert refusals(kernel, tenant.id) == [*already, (principal_of(gql, token), attempted, code)]
    # Naming a role of another province says "denied", not whether it exists.
    missing = {"tenant": "02", "name": "nobody", "permissions": [read]}
    assert refused(gql, UPDATE_ROLE, {"input": missing}, token=province) == "permission.denied"
    assert authz_state(kernel) == before


def test_a_changed_role_is_in_force_on_its_holders_next_request(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    create_role(gql, "01", "clerk", "kernel.tenants.read")
    clerk = token_for(kernel, "01", "clerk")
    assert refused(gql, CAN_CREATE_TENANT, {"code": "01.A"}, token=clerk) == "permission.denied"
    widened = {"tenant": "01", "name": "clerk", "permissions": ["kernel.tenants.read", "kernel.tenants.create"]}
    updated = gql.data(UPDATE_ROLE, {"input": widened})["updateRolePermissions"]
    assert [p["name"] for p in updated["permissions"]] == ["kernel.tenants.create", "kernel.tenants.read"]
    assert gql.data(CAN_CREATE_TENANT, {"code": "01.A"}, token=clerk) == {"createTenant": {"code": "01.A"}}
    assert gql.data("{ me { permissions } }", token=clerk)["me"]["permissions"] == [
        "kernel.tenants.create",
        "kernel.tenants.read",
    ]
    narrowed = {"tenant": "01", "name": "clerk", "permissions": ["kernel.tenants.read"]}
    gql.data(UPDATE_ROLE, {"input": narrowed})
    assert refused(gql, CAN_CREATE_TENANT, {"code": "01.B"}, token=clerk) == "permission.denied"
    [*_, (_, _, _, detail)] = [e for e in audit_entries(kernel, tree.p1.id) if e[0] == "role.update"]
    assert (detail["added"], detail["removed"]) == ([], ["kernel.tenants.create"])


# -- deleting roles ---------------------------------------------------------------------------------


def delete(tenant: str, name: str) -> dict[str, dict[str, str]]:
    return {"input": {"tenant": tenant, "name": name}}


def role_names(gql: GraphQL, tenant: str) -> list[str]:
    [page] = roles_at(gql, tenant)
    return [role["name"] for role in page]


def test_a_province_administrator_deletes_an_unused_role_of_its_province(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    created = create_role(gql, "01", "clerk", "kernel.tenants.read", "kernel.users.read")
    province = token_for(kernel, "01", "admin")
    deleted = gql.data(DELETE_ROLE, delete("01", "clerk"), token=province)["deleteRole"]
    assert deleted == {"id": created["id"], "name": "clerk", "tenant": {"code": "01"}}
    assert "clerk" not in role_names(gql, "01") and "clerk" not in role_names(gql, "00001")
    assert not [r for r in authz_state(kernel)[1] if r[1] == "clerk"]
    [(actor, target, detail)] = [
        (a, t, d) for action, a, t, d in audit_entries(kernel, tree.p1.id) if action == "role.delete"
    ]
    assert (actor, target) == (principal_of(gql, province), "clerk")
    assert detail == {"role_id": created["id"], "permissions": ["kernel.tenants.read", "kernel.users.read"]}
    # The name is free again, and the new role is a different one.
    again = create_role(gql, "01", "clerk", "kernel.tenants.read", token=province)
    assert [p["name"] for p in again["permissions"]] == ["kernel.tenants.read"]


def test_bad_deletes_are_refused_clearly_and_change_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    create_role(gql, "01", "clerk", "kernel.tenants.read")
    create_role(gql, "01", "used", "kernel.tenants.read")
    create_role(gql, "02", "other", "kernel.tenants.read")
    grant_ids = []
    for username in ("an.nguyen", "binh.tran"):
        make_user(kernel, username, "00001")
        grant_ids.append(grant_role(gql, "00001", "used", username=username)["id"])
    province = token_for(kernel, "01", "admin")
    before = authz_state(kernel), audit_entries(kernel, tree.p1.id), audit_entries(kernel, tree.c1.id)
    for tenant, name, code in (
        ("01", "nobody", "authz.role_not_found"),
        ("00001", "clerk", "authz.role_not_found"),  # defined above, not at the commune
        ("01", "viewer", "authz.template_read_only"),
        ("99", "clerk", "tenant.not_found"),
    ):
        assert refused(gql, DELETE_ROLE, delete(tenant, name), token=province) == code, (tenant, name)
    in_use = gql.post(DELETE_ROLE, delete("01", "used"), token=province)
    assert codes(in_use) == ["authz.role_in_use"]
    assert "2 grant(s)" in in_use.json()["errors"][0]["message"]
    assert "used" in role_names(gql, "01")
    assert (authz_state(kernel), audit_entries(kernel, tree.p1.id), audit_entries(kernel, tree.c1.id)) == before
    # Revoking the grants makes the role deletable.
    for grant_id in grant_ids:
        gql.data(REVOKE, {"id": grant_id})
    assert gql.data(DELETE_ROLE, delete("01", "used"), token=province)["deleteRole"]["name"] == "used"


def test_a_role_of_another_province_is_answered_as_if_it_did_not_exist(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    create_role(gql, "02", "other", "kernel.tenants.read")
    province = token_for(kernel, "01", "admin")
    before = authz_state(kernel)
    existing = gql.post(DELETE_ROLE, delete("02", "other"), token=province).json()
    missing = gql.post(DELETE_ROLE, delete("02", "nobody"), token=province).json()
    assert existing["errors"][0]["extensions"]["code"] == "permission.denied"
    assert existing == missing  # the same code, and the same words
    assert authz_state(kernel) == before
    # The attempt on a role that exists is a security event of province 02, out of the caller's sight.
    assert refusals(kernel, tree.p2.id) == [(principal_of(gql, province), "role.delete", "permission.denied")]


def test_only_who_manages_roles_where_the_role_was_defined_may_delete_it(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    create_role(gql, "01", "clerk", "kernel.tenants.read")
    create_role(gql, "00001", "ward.clerk", "kernel.tenants.read")
    commune, viewer = token_for(kernel, "00001", "admin"), token_for(kernel, "01", "viewer")
    before = authz_state(kernel)
    for token in (commune, viewer):  # a commune's administrator holds nothing at its province
        assert refused(gql, DELETE_ROLE, delete("01", "clerk"), token=token) == "permission.denied"
    assert refusals(kernel, tree.p1.id) == [
        (principal_of(gql, commune), "role.delete", "permission.denied"),
        (principal_of(gql, viewer), "role.delete", "permission.denied"),
    ]
    anonymous = gql.post(DELETE_ROLE, delete("01", "clerk"), anonymous=True, tenant="01")
    assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"]
    assert authz_state(kernel) == before
    # At its own commune it may; the central administrator may at any tenant below it.
    assert gql.data(DELETE_ROLE, delete("00001", "ward.clerk"), token=commune)["deleteRole"]["name"] == "ward.clerk"
    assert gql.data(DELETE_ROLE, delete("01", "clerk"))["deleteRole"]["name"] == "clerk"
