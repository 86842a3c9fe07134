"""The tenant part of the kernel schema: everything ``nentang tenant`` does, over GraphQL —
navigation and paging, provisioning, rename, move, suspend, reactivate — with authorisation,
clear errors, and DataLoaders that keep a tree query to one statement per level."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, codes, counting_settings, statements, token_for
from tests.identity_fixtures import actions, audit_entries

PAGE = "edges { cursor node { code } } pageInfo { hasNextPage endCursor }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return counting_settings(database_url)


@pytest.fixture
def http(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def central(kernel: Kernel, tree: Tree) -> str:
    return token_for(kernel, "TW", "admin")


@pytest.fixture
def gql(http: TestClient, central: str) -> GraphQL:
    return GraphQL(http, token=central)


def codes_of(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["code"] for edge in page["edges"]]


def all_pages(gql: GraphQL, arguments: str, first: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        cursor = f', after: "{after}"' if after else ""
        page = gql.data(f"{{ tenants(first: {first}{cursor}{arguments}) {{ {PAGE} }} }}")["tenants"]
        pages.append(codes_of(page))
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


# -- reading the tree ---------------------------------------------------------------------------------


def test_tenants_page_through_everything_children_or_a_subtree(gql: GraphQL) -> None:
    assert all_pages(gql, "", 4) == [["00001", "00002", "00003", "01"], ["02", "TW"]]
    assert all_pages(gql, ', parent: "01"', 1) == [["00001"], ["00002"]]
    assert all_pages(gql, ', parent: "TW", subtree: true', 3) == [["01", "02", "00001"], ["00002", "00003"]]
    assert all_pages(gql, ", kind: COMMUNE", 10) == [["00001", "00002", "00003"]]
    assert all_pages(gql, ', parent: "01", kind: PROVINCE', 10) == [[]]
    empty = gql.data(f"{{ tenants(first: 0) {{ {PAGE} }} }}")["tenants"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}


def test_a_tenant_with_its_parent_ancestors_and_children(gql: GraphQL) -> None:
    query = """{ tenant(code: "00001") { code name kind status depth divisionType createdAt
        parent { code childCount } ancestors { code kind } children(first: 5) { edges { node { code } } } } }"""
    tenant = gql.data(query)["tenant"]
    assert tenant["code"] == "00001" and tenant["name"] == "Phường Một" and tenant["kind"] == "COMMUNE"
    assert (tenant["status"], tenant["depth"], tenant["divisionType"]) == ("ACTIVE", 2, None)
    assert tenant["createdAt"].endswith("+00:00")
    assert tenant["parent"] == {"code": "01", "childCount": 2}
    assert tenant["ancestors"] == [{"code": "TW", "kind": "CENTRAL"}, {"code": "01", "kind": "PROVINCE"}]
    assert tenant["children"] == {"edges": []}


def test_unknown_tenants_and_foreign_cursors_are_clear_errors(gql: GraphQL) -> None:
    missing = gql.post('{ tenant(code: "99") { code } }')
    assert missing.status_code == 200 and missing.json()["data"] == {"tenant": None}
    assert codes(missing) == ["tenant.not_found"] and "'99'" in missing.json()["errors"][0]["message"]
    assert codes(gql.post('{ tenants(first: 1, parent: "99") { edges { cursor } } }')) == ["tenant.not_found"]
    for cursor in ("not-a-cursor", "WzEsMl0"):  # garbage, and a cursor of another list ([1,2])
        refused = gql.post(f'{{ tenants(first: 1, after: "{cursor}") {{ edges {{ cursor }} }} }}')
        assert codes(refused) == ["graphql.bad_cursor"]


def test_reading_needs_the_permission_at_the_tenant_read(gql: GraphQL, kernel: Kernel) -> None:
    viewer = token_for(kernel, "01", "viewer")
    assert gql.data('{ tenant(code: "00002") { code } }', token=viewer) == {"tenant": {"code": "00002"}}
    assert codes_of(
        gql.data('{ tenants(first: 5, parent: "01") { edges { node { code } } } }', token=viewer)["tenants"]
    )
    for query in ('{ tenant(code: "02") { code } }', "{ tenants(first: 5) { edges { cursor } } }"):
        denied = gql.post(query, token=viewer)
        assert denied.status_code == 200 and codes(denied) == ["permission.denied"], query
    upward = gql.post(
        '{ tenant(code: "01") { parent { code children(first: 5) { edges { cursor } } } } }', token=viewer
    )
    assert upward.json()["data"] == {"tenant": {"parent": None}}
    [error] = upward.json()["errors"]
    assert error["extensions"]["code"] == "permission.denied" and error["path"] == ["tenant", "parent", "children"]


TREE_QUERY = """{ tenants(first: 10, parent: "TW") { edges { node {
    code childCount parent { code } ancestors { code }
    children(first: 20) { edges { node {
        code childCount parent { name } ancestors { code }
        children(first: 10) { edges { node { code } } }
    } } }
} } } }"""


def grow(kernel: Kernel, provinces: int, communes: int) -> None:
    actor = Actor.system("tests")
    for p in range(provinces):
        code = f"{10 + p}"
        kernel.tenants.create(code=code, name=f"Tỉnh {code}", kind=TenantKind.PROVINCE, parent_code="TW", actor=actor)
        for c in range(communes):
            commune = f"{code}{c:03d}"
            kernel.tenants.create(
                code=commune, name=f"Xã {commune}", kind=TenantKind.COMMUNE, parent_code=code, actor=actor
            )


def test_a_tree_query_costs_one_statement_per_level_whatever_the_size_of_the_tree(gql: GraphQL, kernel: Kernel) -> None:
    with statements(kernel) as small:
        small_tree = gql.data(TREE_QUERY)["tenants"]["edges"]
    grow(kernel, provinces=6, communes=8)
    with statements(kernel) as large:
        large_tree = gql.data(TREE_QUERY)["tenants"]["edges"]
    assert len(small_tree) == 2 and len(large_tree) == 8
    assert sum(len(p["node"]["children"]["edges"]) for p in large_tree) == 3 + 6 * 8
    # Authentication and the request's tenant, the parent's lookup and its page, then per level one
    # statement per loader (children's pages, their counts, parents + ancestors): the same handful
    # for 6 tenants as for 59, never one per node.
    assert len(large) == len(small) <= 12, large


# -- changing the tree -------------------------------------------------------------------------------


CREATE = """mutation($input: CreateTenantInput!) { createTenant(input: $input) {
    code name kind depth divisionType parent { code } } }"""


def test_an_administrator_provisions_a_unit_below_it_and_the_act_is_audited(gql: GraphQL, kernel: Kernel) -> None:
    province = token_for(kernel, "01", "admin")
    unit = {"code": "01.VP", "name": "Văn phòng UBND", "parent": "01", "divisionType": "văn phòng"}
    created = gql.data(CREATE, {"input": unit}, token=province)["createTenant"]
    assert created == {
        "code": "01.VP",
        "name": "Văn phòng UBND",
        "kind": "UNIT",
        "depth": 2,
        "divisionType": "văn phòng",
        "parent": {"code": "01"},
    }
    info = kernel.tenants.get("01.VP")
    assert (info.kind, info.parent_id) == (TenantKind.UNIT, kernel.tenants.get("01").id)
    [(action, actor, target, _)] = [e for e in audit_entries(kernel, info.id) if e[0] == "tenant.create"]
    assert (action, target) == ("tenant.create", "01.VP") and actor.startswith("token:")


def test_provisioning_is_refused_clearly_and_changes_nothing(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    province, viewer = token_for(kernel, "01", "admin"), token_for(kernel, "01", "viewer")
    before = (set(kernel.tenants.codes_by_id().values()), actions(kernel, tree.p2.id), actions(kernel, tree.p1.id))
    cases = [
        (province, {"code": "X1", "name": "Ban", "parent": "02"}, "permission.denied"),  # beside its subtree
        (viewer, {"code": "X1", "name": "Ban", "parent": "01"}, "permission.denied"),
        (province, {"code": "00001", "name": "Trùng", "parent": "01"}, "tenant.code_taken"),
        (province, {"code": "X1", "name": "Xã", "parent": "00001", "kind": "COMMUNE"}, "tenant.rule_violated"),
        (province, {"code": "X1", "name": "Ban", "parent": "99"}, "tenant.not_found"),
        (province, {"code": "bad code!", "name": "Ban", "parent": "01"}, "validation.failed"),
        (province, {"code": "X1", "name": " ", "parent": "01"}, "validation.failed"),
    ]
    for token, unit, code in cases:
        response = gql.post(CREATE, {"input": unit}, token=token)
        assert response.status_code == 200 and response.json()["data"] == {"createTenant": None}
        assert codes(response) == [code], (unit, response.json())
    wrong_kind = gql.post(CREATE, {"input": {"code": "X1", "name": "Ban", "parent": "01", "kind": "REGION"}})
    assert wrong_kind.status_code == 400 and codes(wrong_kind) == ["graphql.bad_variables"]
    after = (set(kernel.tenants.codes_by_id().values()), actions(kernel, tree.p2.id), actions(kernel, tree.p1.id))
    assert after[0] == before[0]
    # Nothing changed but the record of the two refusals for want of permission: in the province
    # aimed at (02) and in the actors' own (01), once per actor.
    added = [chain[len(old) :] for chain, old in zip(after[1:], before[1:], strict=True)]
    assert [chain[: len(old)] for chain, old in zip(after[1:], before[1:], strict=True)] == list(before[1:])
    assert added == [["graphql.refused"], ["graphql.refused", "graphql.refused"]]


def test_rename_move_suspend_and_reactivate(gql: GraphQL, kernel: Kernel) -> None:
    renamed = gql.data('mutation { renameTenant(code: "00002", name: "Phường Hai Mới") { name } }')
    assert renamed == {"renameTenant": {"name": "Phường Hai Mới"}}
    moved = gql.data('mutation { moveTenant(code: "00002", parent: "02") { depth ancestors { code } } }')
    assert moved == {"moveTenant": {"depth": 2, "ancestors": [{"code": "TW"}, {"code": "02"}]}}
    assert gql.data('mutation { suspendTenant(code: "00003", reason: "x") { status } }') == {
        "suspendTenant": {"status": "SUSPENDED"}
    }
    again = gql.post('mutation { suspendTenant(code: "00003") { status } }')
    assert codes(again) == ["tenant.rule_violated"] and "already suspended" in again.json()["errors"][0]["message"]
    assert gql.data('mutation { reactivateTenant(code: "00003") { status } }') == {
        "reactivateTenant": {"status": "ACTIVE"}
    }
    cycle = gql.post('mutation { moveTenant(code: "02", parent: "00003") { code } }')
    assert codes(cycle) == ["tenant.rule_violated"]
    assert [a for a in actions(kernel, kernel.tenants.get("00003").id) if a.startswith("tenant.")][-2:] == [
        "tenant.suspend",
        "tenant.reactivate",
    ]


def test_managing_needs_the_permission_at_the_tenant_and_moving_also_at_the_new_parent(
    gql: GraphQL, kernel: Kernel
) -> None:
    province = token_for(kernel, "01", "admin")
    assert gql.data('mutation { renameTenant(code: "00001", name: "P1") { name } }', token=province)
    for mutation in (
        'mutation { renameTenant(code: "00003", name: "X") { name } }',
        'mutation { suspendTenant(code: "02") { status } }',
        'mutation { moveTenant(code: "00001", parent: "02") { code } }',  # manages 00001, not 02
        'mutation { moveTenant(code: "00003", parent: "01") { code } }',  # 00003 is not its own
    ):
        denied = gql.post(mutation, token=province)
        assert codes(denied) == ["permission.denied"], mutation
    assert kernel.tenants.get("00001").parent_id == kernel.tenants.get("01").id
    assert kernel.tenants.get("00003").name == "Xã Ba"


def test_me_tells_a_token_who_it_is_and_what_it_may_do_here(gql: GraphQL, kernel: Kernel) -> None:
    viewer = token_for(kernel, "00001", "viewer")
    me = gql.data(
        "{ me { principal authenticated method user { id } token { name prefix } permissions } }", token=viewer
    )
    assert me["me"]["principal"].startswith("token:") and me["me"]["authenticated"] is True
    assert me["me"]["method"] == "TOKEN" and me["me"]["user"] is None
    assert me["me"]["token"]["prefix"].startswith("nt_") and me["me"]["token"]["name"].startswith("tests 00001")
    assert me["me"]["permissions"] == ["kernel.tenants.read"]
