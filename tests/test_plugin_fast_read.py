"""The plugin read path (issue 14, item 2) keeps every containment check of issue 12 while it is warm.

A query's plugin work runs the read path (on SQLite a deferred transaction begun straight on the
driver connection, on PostgreSQL the tenant settings sent before its first statement); the guard's
and the tenant filter's decisions are remembered per statement shape. So each refusal is asked for
several times in a row: the cached answer must refuse exactly as the first one did. A statement that
never ends (a recursive CTE) is stopped at the deadline inside the database, and the plugin's only
thread comes back for the next request, on both databases.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, codes, token_for
from tests.guard_fixtures import snapshot
from tests.identity_fixtures import identity_settings
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

QUERY = "query($name: String!, $target: Int) { probe_attack(name: $name, target: $target) }"
DEADLINE = 1.0
REPEATS = 3

ENDLESS_CODE = """
import strawberry
from sqlalchemy import func, literal, select
from nentang.sdk import GraphQLContribution, graphql_request, hookimpl


def endless(ctx):
    numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n > 0))
    return ctx.session.execute(select(func.count()).select_from(numbers)).scalar()


@strawberry.type
class EndlessQuery:
    @strawberry.field
    async def endless_count(self, info: strawberry.Info) -> int:
        return await graphql_request(info).run(endless)

    @strawberry.field
    async def endless_hello(self, info: strawberry.Info) -> str:
        return await graphql_request(info).run(lambda ctx: "xin chao " + ctx.tenant.code)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(EndlessQuery,))
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def gql(probed: Kernel, tree: Tree) -> Iterator[GraphQL]:
    with TestClient(create_app(probed), raise_server_exceptions=False) as http:
        yield GraphQL(http, token=token_for(probed, "00001", "admin"))


def attack(gql: GraphQL, name: str) -> tuple[object, list[dict]]:  # type: ignore[type-arg]
    body = gql.post(QUERY, {"name": name, "target": None}).json()
    return body.get("data"), body.get("errors") or []


@pytest.mark.parametrize("name", ["table_column", "other_plugin_table", "join_kernel_table", "subquery"])
def test_a_warm_read_still_refuses_a_table_the_plugin_does_not_own(gql: GraphQL, probed: Kernel, name: str) -> None:
    before = snapshot(probed)
    for _ in range(REPEATS):
        data, errors = attack(gql, name)
        assert data is None and [e["extensions"]["code"] for e in errors] == ["plugin.statement_refused"], errors
    assert snapshot(probed) == before


def test_a_warm_read_sees_its_own_tenants_rows_only(gql: GraphQL, probed: Kernel) -> None:
    for _ in range(REPEATS):
        assert attack(gql, "own_rows") == ({"probe_attack": repr(["note of 00001"])}, [])
        assert attack(gql, "rescope") == ({"probe_attack": repr(["note of 00001"])}, [])


@pytest.fixture
def endless(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("endless", ENDLESS_CODE)
    # one thread for the plugin: a statement still running after the deadline would keep the next
    # request waiting for it, and that request would time out too
    kernel = make_kernel(plugin_calls=PluginCallLimits(deadline=DEADLINE, threads=1, concurrency=1))
    kernel.plugins.activation.enable(actor=Actor.command_line(), plugin="endless", tenant_code="00001", checked=False)
    return kernel


def test_a_statement_past_its_deadline_is_stopped_in_the_database(endless: Kernel) -> None:
    with TestClient(create_app(endless), raise_server_exceptions=False) as http:
        gql = GraphQL(http, token=token_for(endless, "00001", "admin"))
        for _ in range(2):
            began = time.monotonic()
            response = gql.post("{ endless_count }")
            assert codes(response) == ["plugin.timeout"], response.json()
            assert DEADLINE <= time.monotonic() - began < DEADLINE + 2
            # the thread is back: the next request runs at once, not after another deadline
            began = time.monotonic()
            assert gql.data("{ endless_hello }") == {"endless_hello": "xin chao 00001"}
            assert time.monotonic() - began < DEADLINE
    assert endless.plugins.watchdog.running() == []
