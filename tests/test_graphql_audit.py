"""The audit log over GraphQL: a tenant's entries or its subtree's, newest first, filtered and
keyset-paged without gaps or duplicates; the chain check; authorisation that keeps a province to
its own subtree; and a page whose cost does not grow with its size."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.graphql.pagination import encode_cursor
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, codes, counting_settings, statements, token_for
from tests.identity_fixtures import audit_entries

NODE = "seq at actor action target detail hash prevHash tenant { code }"
LOG = f"""query($tenant: String!, $first: Int!, $after: String, $subtree: Boolean! = false, $action: String,
    $actor: String, $since: DateTime, $until: DateTime) {{
  auditLog(tenant: $tenant, first: $first, after: $after, subtree: $subtree, action: $action, actor: $actor,
           since: $since, until: $until) {{
    edges {{ cursor node {{ {NODE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return counting_settings(database_url)


@pytest.fixture
def gql(client: TestClient, kernel: Kernel, tree: Tree) -> GraphQL:
    return GraphQL(client, token=token_for(kernel, "TW", "admin"))


def record(kernel: Kernel, tenant_id: int, action: str, actor: str = "alice", target: str = "x", **detail: Any) -> None:
    """Append one entry through the real audit log, as a service does."""
    with kernel.db.tenant(tenant_id) as session, session.begin():
        kernel.audit.append(
            session, tenant_id=tenant_id, actor=Actor("user", actor), action=action, target=target, detail=detail
        )


def log(gql: GraphQL, tenant: str, first: int = 100, **variables: Any) -> dict[str, Any]:
    return gql.data(LOG, {"tenant": tenant, "first": first, **variables})["auditLog"]


def nodes(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in page["edges"]]


def keys(page: dict[str, Any]) -> list[tuple[str, int]]:
    return [(n["tenant"]["code"], n["seq"]) for n in nodes(page)]


def all_pages(
    gql: GraphQL, tenant: str, first: int, after: str | None = None, **variables: Any
) -> list[list[tuple[str, int]]]:
    pages = []
    while True:
        page = log(gql, tenant, first, after=after, **variables)
        pages.append(keys(page))
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


# -- reading ------------------------------------------------------------------------------------------


def test_a_tenants_log_is_its_chain_newest_first_with_every_field(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    record(kernel, tree.c1.id, "plugin.enable", target="forms", settings={"limit": 5})
    record(kernel, tree.c1.id, "authz.grant", actor="bob", target="user:7")
    stored = audit_entries(kernel, tree.c1.id)
    page = log(gql, "00001")
    got = nodes(page)
    assert [(n["action"], n["actor"], n["target"], n["detail"]) for n in reversed(got)] == [
        (action, actor, target, detail) for action, actor, target, detail in stored
    ]
    assert [n["seq"] for n in got] == list(range(len(stored), 0, -1))
    assert {n["tenant"]["code"] for n in got} == {"00001"}
    assert got[0]["detail"] == {} and got[1]["detail"] == {"settings": {"limit": 5}}
    assert all(newer["prevHash"] == older["hash"] for newer, older in itertools.pairwise(got))
    assert got[-1]["prevHash"] == "0" * 64 and got[0]["at"].endswith("+00:00")
    assert page["pageInfo"]["hasNextPage"] is False


def test_a_subtree_log_interleaves_the_tenants_below_by_time_and_nothing_beside(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    for tenant in (tree.p1, tree.c1, tree.p2, tree.c2, tree.c3, tree.c1):
        record(kernel, tenant.id, "probe.write")
    province = keys(log(gql, "01", subtree=True, action="probe.write"))
    assert province == [("00001", 3), ("00002", 2), ("00001", 2), ("01", 2)]
    assert keys(log(gql, "01", action="probe.write")) == [("01", 2)]  # without subtree: the tenant alone
    everything = log(gql, "TW", subtree=True)
    assert {code for code, _ in keys(everything)} == {"TW", "01", "02", "00001", "00002", "00003"}
    at = [datetime.fromisoformat(n["at"]) for n in nodes(everything)]
    assert at == sorted(at, reverse=True)


def test_filters_select_exactly_the_matching_entries(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    for action, actor in [
        ("authz.grant", "alice"),
        ("authz.revoke", "bob"),
        ("authzx.grant", "alice"),  # shares the letters, not the area
        ("plugin.enable", "alice"),
        ("authz.grant", "bob"),
    ]:
        record(kernel, tree.p1.id, action, actor=actor)
    everything = nodes(log(gql, "01"))

    def actions(**where: Any) -> list[tuple[str, str]]:
        return [(n["action"], n["actor"]) for n in nodes(log(gql, "01", **where))]

    assert actions(action="authz.") == [
        ("authz.grant", "user:bob"),
        ("authz.revoke", "user:bob"),
        ("authz.grant", "user:alice"),
    ]
    assert actions(action="authz.grant") == [("authz.grant", "user:bob"), ("authz.grant", "user:alice")]
    assert actions(action="authz") == []  # exact unless it ends with a dot
    assert actions(action="authz_") == [] and actions(action="auth%.") == []  # no wildcards
    assert actions(actor="user:alice", action="authz.") == [("authz.grant", "user:alice")]
    assert actions(actor="user:nobody") == []

    # since is inclusive and until exclusive, in any time zone
    third = datetime.fromisoformat(everything[2]["at"])  # authzx.grant
    hanoi = third.astimezone(timezone(timedelta(hours=7)))
    window = actions(since=hanoi.isoformat(), until=datetime.fromisoformat(everything[0]["at"]).isoformat())
    assert window == [("plugin.enable", "user:alice"), ("authzx.grant", "user:alice")]
    after_all = (datetime.fromisoformat(everything[0]["at"]) + timedelta(microseconds=1)).isoformat()
    assert actions(since=after_all) == []
    assert [n["seq"] for n in nodes(log(gql, "01", until=hanoi.isoformat()))] == [n["seq"] for n in everything[3:]]


def test_paging_covers_every_entry_once_even_while_entries_are_appended(
    gql: GraphQL, kernel: Kernel, tree: Tree
) -> None:
    for i in range(23):
        record(kernel, (tree.p1, tree.c1, tree.c2)[i % 3].id, "probe.write", n=i)
    whole = keys(log(gql, "01", subtree=True))
    for first in (1, 4, 7, 100):
        pages = all_pages(gql, "01", first, subtree=True)
        flat = [key for page in pages for key in page]
        assert flat == whole and len(set(flat)) == len(flat), first
        assert all(len(page) == first for page in pages[:-1])
    first_page = log(gql, "01", 5, subtree=True)
    record(kernel, tree.c1.id, "probe.late")  # newer than every page: it shows at the front only
    rest = all_pages(gql, "01", 5, subtree=True, after=first_page["pageInfo"]["endCursor"])
    assert keys(first_page) + [key for page in rest for key in page] == whole


def test_a_chain_check_reports_an_intact_chain(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    record(kernel, tree.c1.id, "probe.write")
    report = gql.data('{ verifyAuditChain(tenant: "00001") { tenant { code } ok checked brokenSeq reason } }')
    assert report["verifyAuditChain"] == {
        "tenant": {"code": "00001"},
        "ok": True,
        "checked": len(audit_entries(kernel, tree.c1.id)),
        "brokenSeq": None,
        "reason": None,
    }


# -- authorisation and bad input -------------------------------------------------------------------


def test_a_province_reads_its_own_subtree_only(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    province = token_for(kernel, "01", "admin")
    auditor = token_for(kernel, "01", "auditor")
    viewer = token_for(kernel, "01", "viewer")
    record(kernel, tree.c3.id, "probe.secret")
    assert keys(log(gql, "00001", token=province))
    assert keys(log(gql, "01", subtree=True, token=auditor))
    for token, tenant, subtree in [
        (province, "02", False),
        (province, "00003", False),
        (province, "TW", True),
        (province, "TW", False),
        (viewer, "01", False),  # no kernel.audit.read
    ]:
        denied = gql.post(LOG, {"tenant": tenant, "first": 10, "subtree": subtree}, token=token)
        assert denied.status_code == 200 and denied.json()["data"] is None
        assert codes(denied) == ["permission.denied"], (tenant, subtree)
        assert "probe.secret" not in denied.text
    check = gql.post('{ verifyAuditChain(tenant: "02") { ok } }', token=province)
    assert codes(check) == ["permission.denied"]


def test_anonymous_callers_are_asked_to_sign_in(gql: GraphQL) -> None:
    refused = gql.post(LOG, {"tenant": "01", "first": 1}, anonymous=True, tenant="01")
    assert refused.status_code == 401 and codes(refused) == ["auth.required"]


def test_bad_input_is_a_clear_error(gql: GraphQL) -> None:
    def code(variables: dict[str, Any]) -> list[str]:
        return codes(gql.post(LOG, {"tenant": "01", "first": 5, **variables}))

    assert code({"tenant": "99"}) == ["tenant.not_found"]
    foreign = encode_cursor("01")  # a cursor of the tenants list
    not_a_time = encode_cursor("yesterday", 1, 2)
    naive = encode_cursor("2026-01-01T00:00:00", 1, 2)
    for cursor in ("not-a-cursor", foreign, not_a_time, naive):
        assert code({"after": cursor}) == ["graphql.bad_cursor"], cursor
    assert code({"first": 101}) == ["graphql.page_size"]
    assert code({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}) == ["audit.bad_filter"]
    assert code({"since": "2026-01-01T00:00:00"}) == ["audit.bad_filter"]  # which time zone?
    assert code({"action": "."}) == ["audit.bad_filter"]
    unparsable = gql.post(LOG, {"tenant": "01", "first": 5, "since": "yesterday"})
    assert unparsable.status_code == 400 and codes(unparsable) == ["graphql.bad_variables"]


# -- cost ------------------------------------------------------------------------------------------


def test_a_page_costs_the_same_statements_whatever_its_size(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    query = '{ auditLog(tenant: "TW", subtree: true, first: 100) { edges { node { seq tenant { code } } } } }'
    gql.data(query)  # the worker's caches (grants, activations) fill on a first request
    with statements(kernel, "") as small:  # every SELECT
        few = gql.data(query)["auditLog"]["edges"]
    for i in range(120):
        record(kernel, (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)[i % 6].id, "probe.write")
    with statements(kernel, "") as large:
        many = gql.data(query)["auditLog"]["edges"]
    assert len(few) < 20 and len(many) == 100
    assert len({e["node"]["tenant"]["code"] for e in many}) == 6
    # the endpoint's (token, its tenant twice), the tenant named, the subtree's ids, one page, and one
    # batch for every entry's tenant: the same for 100 entries of 6 tenants as for a handful
    assert len(requests(large)) == len(requests(small)) <= 7, large


def requests(seen: list[str]) -> list[str]:
    """The statements of the request: without PostgreSQL's per-transaction scope settings and the
    change watcher's poll, which runs in the background whenever it is due."""
    return [s for s in seen if "set_config" not in s and "kernel_change_version" not in s]
