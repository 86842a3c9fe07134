"""Batch fields (issue 14 item 3): a field declared with ``batch_resolver`` answers for every item of
a page in one call — one plugin call (in a plugin thread, under the deadline) or one kernel read
per field per page — completed by plan, with the same answer graphql-core gives: the same data,
the same errors at the same paths, for every query document the suite sends."""

from __future__ import annotations

import ast
import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import OperationDefinitionNode, OperationType, parse, validate
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk import batch_resolver
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, statements, token_for
from tests.identity_fixtures import identity_settings
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

OPERATOR = Actor.command_line()
ROOT = Path(__file__).resolve().parent.parent

#: A plugin whose page items have batch fields: ``label`` (a read through the plugin's request, an
#: error for item 13 only) and ``stuck`` (a batch that never returns).
TALLY_CODE = """
import threading

import strawberry

from nentang.sdk import GraphQLContribution, ValidationFailed, batch_resolver, graphql_metadata, graphql_request
from nentang.sdk import hookimpl

CALLS = []


async def _labels(items: list["TallyItem"], info: strawberry.Info) -> list[str]:
    code = await graphql_request(info).run(lambda ctx: ctx.tenant.code)
    CALLS.append(("label", len(items), threading.current_thread().name))
    return [
        ValidationFailed(f"item {i.number} has no label", code="tally.no_label") if i.number == 13
        else f"{code}-{i.number}"
        for i in items
    ]


def _stuck(items: list["TallyItem"], info: strawberry.Info) -> list[int]:
    CALLS.append(("stuck", len(items), threading.current_thread().name))
    while True:
        pass


@strawberry.type
class TallyItem:
    number: int
    label: str | None = strawberry.field(resolver=batch_resolver(_labels))
    stuck: int | None = strawberry.field(resolver=batch_resolver(_stuck))


@strawberry.type
class TallyPage:
    items: list[TallyItem] = strawberry.field(metadata=graphql_metadata(page_items=True))


@strawberry.type
class TallyQuery:
    @strawberry.field
    def tally_items(self, first: int) -> TallyPage:
        return TallyPage(items=[TallyItem(number=n) for n in range(1, first + 1)])


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(TallyQuery,))
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def tallied(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("tally", TALLY_CODE)
    kernel = make_kernel(plugin_calls=PluginCallLimits(deadline=1.0))
    for code in ("TW", "02"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="tally", tenant_code=code, checked=False)
    return kernel


@pytest.fixture
def http(tallied: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(tallied), raise_server_exceptions=False) as client:
        yield client


def calls() -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = sys.modules["nentang_tally.plugin"].CALLS
    return found


def test_a_plugin_batch_field_is_one_plugin_call_per_page(http: TestClient, tallied: Kernel) -> None:
    gql = GraphQL(http, token=token_for(tallied, "TW", "admin"))
    body = gql.post("{ tally_items(first: 100) { items { number label } } }").json()
    labels = [item["label"] for item in body["data"]["tally_items"]["items"]]
    assert labels == [None if n == 13 else f"TW-{n}" for n in range(1, 101)]
    ((_field, size, thread),) = calls()
    assert size == 100 and thread.startswith("nentang-plugin-")  # one call, in a plugin thread


def test_an_items_error_fails_that_item_only_and_the_batch_is_not_called_again(
    http: TestClient, tallied: Kernel
) -> None:
    gql = GraphQL(http, token=token_for(tallied, "TW", "admin"))
    body = gql.post("{ tally_items(first: 20) { items { number label } } }").json()
    items = body["data"]["tally_items"]["items"]
    assert items[12] == {"number": 13, "label": None} and items[13] == {"number": 14, "label": "TW-14"}
    ((error),) = body["errors"]
    assert error["path"] == ["tally_items", "items", 12, "label"]
    assert error["extensions"]["code"] == "tally.no_label"
    assert len(calls()) == 1  # graphql-core, completing after the plan gave up, found the answers kept


def test_a_batch_past_its_deadline_is_one_timeout_for_the_page(http: TestClient, tallied: Kernel) -> None:
    gql = GraphQL(http, token=token_for(tallied, "TW", "admin"))
    body = gql.post("{ tally_items(first: 3) { items { number stuck } } }").json()
    assert body["data"]["tally_items"]["items"] == [{"number": n, "stuck": None} for n in (1, 2, 3)]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"plugin.timeout"}
    assert [e["path"][-2] for e in body["errors"]] == [0, 1, 2]
    assert [(field, size) for field, size, _ in calls()] == [("stuck", 3)]  # one call, not one per item


def test_tenant_parents_of_a_page_are_one_read_and_refused_per_item(http: TestClient, tallied: Kernel) -> None:
    """``Tenant.parent`` of a subtree page: one statement for every parent; a viewer at 02 reading
    the whole tree is refused per item, at each item's path, like graphql-core refuses it."""
    query = '{ tenants(first: 10, parent: "TW", subtree: true) { edges { node { code parent { code } } } } }'
    admin = GraphQL(http, token=token_for(tallied, "TW", "admin"))
    with statements(tallied) as seen:
        edges = admin.data(query)["tenants"]["edges"]
    assert [(e["node"]["code"], e["node"]["parent"]["code"]) for e in edges][:3] == [
        ("01", "TW"),
        ("02", "TW"),
        ("00001", "01"),
    ]
    assert sum(".id IN (" in s for s in seen) == 1, seen  # the parents of all ten items
    viewer = GraphQL(http, token=token_for(tallied, "02", "viewer"))
    body = viewer.post('{ tenant(code: "00003") { ancestors { code parent { code } } } }').json()
    assert body["data"]["tenant"]["ancestors"] == [
        {"code": "TW", "parent": None},
        {"code": "02", "parent": {"code": "TW"}},
    ]
    ((error),) = body["errors"]  # reading TW's parent needs the right at TW, above the viewer's grant
    assert error["path"] == ["tenant", "ancestors", 0, "parent"] and error["extensions"]["code"] == "permission.denied"


def test_batch_resolver_refuses_a_function_it_cannot_type() -> None:
    def untyped(items, info):  # type: ignore[no-untyped-def]
        return items

    def one_argument(items: list[int]) -> list[int]:
        return items

    with pytest.raises(TypeError, match=r"return as list\[X\]"):
        batch_resolver(untyped)
    with pytest.raises(TypeError, match=r"takes \(items, info\)"):
        batch_resolver(one_argument)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a function"):
        batch_resolver("not a function")  # type: ignore[arg-type]


async def _doubles(items: list[_Number], info: strawberry.Info) -> list[int]:
    return [item.n * 2 for item in items]


@strawberry.type
class _Number:
    n: int
    double: int = strawberry.field(resolver=batch_resolver(_doubles))


@strawberry.type
class _Query:
    @strawberry.field
    def numbers(self) -> list[_Number]:
        return [_Number(n=1), _Number(n=2)]


def test_a_batch_resolver_outside_the_kernel_answers_as_a_batch_of_one() -> None:
    """A plain strawberry schema (a plugin's unit test) calls it item by item: the same answers."""
    result = asyncio.run(strawberry.Schema(query=_Query).execute("{ numbers { n double } }"))
    assert result.errors is None
    assert result.data == {"numbers": [{"n": 1, "double": 2}, {"n": 2, "double": 4}]}


# -- the differential test: every query document of the suite, planned and not -----------------------


def suite_documents() -> list[str]:
    """Every string literal of the suite's test files that is a GraphQL query document."""
    found: set[str] = set()
    for folder in (ROOT / "tests", ROOT / "plugins"):
        for path in sorted(folder.rglob("test_*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value.strip()
                    if text.startswith(("{", "query")) and _is_query(text):
                        found.add(text)
    return sorted(found)


def _is_query(text: str) -> bool:
    try:
        document = parse(text)
    except Exception:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return len(operations) == 1 and operations[0].operation == OperationType.QUERY


def _runnable(document: str, schema: Any) -> bool:
    """Valid for the schema, and every variable optional (the documents come without their values)."""
    parsed = parse(document)
    if validate(schema, parsed):
        return False
    (operation,) = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    return all(
        v.default_value is not None or v.type.kind != "non_null_type" for v in operation.variable_definitions or ()
    )


def test_planned_completion_answers_every_suite_query_exactly_like_graphql_core(
    http: TestClient, tallied: Kernel, tree: Tree
) -> None:
    engine = http.app.state.graphql  # type: ignore[attr-defined]
    callers = {"TW": token_for(tallied, "TW", "admin"), "02": token_for(tallied, "02", "viewer")}
    for token in callers.values():  # each caller's tenant has its schema served and cached
        assert GraphQL(http, token=token).post("{ __typename }").status_code == 200
    served = {code: engine.cached_served(tallied.tenants.get(code).id) for code in callers}
    # (the batch past its deadline is left out: tested above, and two seconds per caller here)
    documents = [d for d in suite_documents() if _runnable(d, served["TW"].schema) and "stuck" not in d]

    def answers() -> dict[tuple[str, str], Any]:
        return {
            (code, d): (r.status_code, r.json())
            for code, token in callers.items()
            for d in documents
            for r in [GraphQL(http, token=token).post(d)]
        }

    planned = answers()
    for one in served.values():
        one.executor_class = one.strawberry.execution_context_class  # graphql-core's completion only
    plain = answers()

    different = [key for key in planned if planned[key] != plain[key]]
    assert not different, different[:3]
    assert len(documents) >= 30, len(documents)
    with_errors = [key for key, (_status, body) in planned.items() if body.get("errors")]
    batched = [d for d in documents if "parent {" in d or "label" in d]
    assert with_errors and batched, (len(with_errors), batched)
    print(f"compared {len(documents)} documents x {len(callers)} callers; {len(with_errors)} answers with errors")
