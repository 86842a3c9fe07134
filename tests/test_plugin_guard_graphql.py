"""The runtime-guard corpus through a plugin's GraphQL resolvers (``probe_attack``): the query (on
SQLite, work run inline on the event loop) and the mutation (a worker thread, a write transaction)
meet the same refusals as a hook, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, token_for
from tests.guard_fixtures import snapshot, sneaked
from tests.guard_plugin import REFUSED, UNREACHABLE
from tests.identity_fixtures import identity_settings

QUERY = "query($name: String!, $target: Int) { probe_attack(name: $name, target: $target) }"
MUTATION = "mutation($name: String!, $target: Int) { probe_attackWrite(name: $name, target: $target) }"
#: Reads, tried through the query as well as the mutation.
READS = sorted(a for a in REFUSED if not a.startswith(("insert_", "update_", "delete_", "orm_flush", "ddl")))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def gql(probed: Kernel, tree: Tree) -> Iterator[GraphQL]:
    with TestClient(create_app(probed), raise_server_exceptions=False) as http:
        yield GraphQL(http, token=token_for(probed, "00001", "admin"))


def attack(gql: GraphQL, document: str, name: str, target: int | None = None) -> tuple[object, list[dict]]:  # type: ignore[type-arg]
    body = gql.post(document, {"name": name, "target": target}).json()
    return body.get("data"), body.get("errors") or []


@pytest.mark.parametrize(("document", "name"), [(QUERY, a) for a in READS] + [(MUTATION, a) for a in sorted(REFUSED)])
def test_each_way_around_the_guard_is_refused_from_a_resolver(
    gql: GraphQL, probed: Kernel, document: str, name: str
) -> None:
    before = snapshot(probed)
    data, errors = attack(gql, document, name)
    assert data is None, data
    (error,) = errors
    assert error["extensions"]["code"] == "plugin.statement_refused", error
    assert error["message"].startswith("plugin 'probe' (graphql) may not use "), error
    words = REFUSED[name]
    assert any(w in error["message"] for w in ((words,) if isinstance(words, str) else words)), error
    assert snapshot(probed) == before


def test_a_resolver_reads_its_tenants_rows_only_however_it_rewrites_session_info(
    gql: GraphQL, probed: Kernel, tree: Tree
) -> None:
    for document in (QUERY, MUTATION):
        assert attack(gql, document, "own_rows") == (
            {"probe_attack" if document is QUERY else "probe_attackWrite": repr(["note of 00001"])},
            [],
        )
    before = snapshot(probed)
    data, errors = attack(gql, QUERY, "rescope")
    assert data == {"probe_attack": repr(["note of 00001"])} and errors == []
    data, errors = attack(gql, MUTATION, "rescope_write", tree.c2.id)
    assert data is None and errors[0]["extensions"]["code"] == "data.cross_tenant_write"
    assert snapshot(probed) == before and sneaked() == []


@pytest.mark.parametrize("name", UNREACHABLE)
def test_no_attribute_of_the_context_the_request_or_info_context_reaches_the_kernel(gql: GraphQL, name: str) -> None:
    for document in (QUERY, MUTATION):
        data, errors = attack(gql, document, name)
        assert data is None and len(errors) == 1, (data, errors)
        assert "Authorizer" not in errors[0]["message"] and "GraphQLContext" not in errors[0]["message"]


def test_info_context_of_a_plugin_resolver_offers_graphql_request_alone(gql: GraphQL) -> None:
    assert attack(gql, QUERY, "info_context_private") == ({"probe_attack": repr(["plugin_request"])}, [])
