"""The watchdog on GraphQL (issue 12, item 4): a plugin's resolver runs off the event loop with a
deadline; past it the field's error is ``plugin.timeout`` naming the plugin, the loop is
interrupted, the error budget is charged, and repeated timeouts quarantine the plugin at that
tenant only. One plugin never stalls other tenants' requests or the probes."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import POLLS_CODE, GraphQL, codes, token_for
from tests.identity_fixtures import identity_settings
from tests.loopback_server import serving
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

OPERATOR = Actor.command_line()
DEADLINE = 1.0
#: The acceptance point of issue 12: the liveness probe answers within this while a resolver loops.
PROBE_LIMIT = 0.100

SPINNER_CODE = """
import time

import strawberry

from nentang.sdk import GraphQLContribution, TenantContext, graphql_request, hookimpl

LEFT = []


def spin(where):
    spins = 0
    try:
        while True:
            spins += 1
    finally:
        LEFT.append(where)


@strawberry.type
class SpinnerQuery:
    @strawberry.field
    def spinner_spin(self, info: strawberry.Info) -> int:
        graphql_request(info)
        spin("resolver")
        return 0

    @strawberry.field
    async def spinner_async_spin(self) -> int:
        spin("async resolver")  # an async resolver that never awaits: it would hold any loop it ran on
        return 0

    @strawberry.field
    async def spinner_run_spin(self, info: strawberry.Info) -> int:
        return await graphql_request(info).run(lambda ctx: spin("run work"))

    @strawberry.field
    def spinner_sleep(self) -> int:
        time.sleep(3)  # blocked in C: the watchdog cannot interrupt it
        return 0

    @strawberry.field
    async def spinner_hello(self, info: strawberry.Info) -> str:
        request = graphql_request(info)
        return await request.run(lambda ctx: "xin chao " + ctx.tenant.code)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(SpinnerQuery,))
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def spinning(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("spinner", SPINNER_CODE)
    plugin_factory.make("polls", POLLS_CODE)
    kernel = make_kernel(plugin_error_budget=2, plugin_calls=PluginCallLimits(deadline=DEADLINE))
    for code in ("00001", "00002"):
        for plugin in ("spinner", "polls"):
            kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)
    return kernel


def left() -> list[str]:
    return sys.modules["nentang_spinner.plugin"].LEFT  # type: ignore[no-any-return]


def post(base_url: str, query: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def wait_until_running(kernel: Kernel, entry: str) -> None:
    deadline = time.monotonic() + 10
    while not any(call.entry == entry for call in kernel.plugins.watchdog.running()):
        assert time.monotonic() < deadline, f"{entry} never started"
        time.sleep(0.01)


def test_healthz_answers_within_100_ms_while_a_plugin_resolver_loops(spinning: Kernel, tree: Tree) -> None:
    """Acceptance point of issue 12: ``/healthz`` answers within 100 ms while a plugin's resolver
    loops (``while True``), on a real server; another tenant's query answers meanwhile; past the
    deadline the looping request gets ``plugin.timeout`` and its thread is freed."""
    looping_token, other_token = token_for(spinning, "00001", "admin"), token_for(spinning, "00002", "admin")
    with serving(spinning) as base_url:
        outcome: dict[str, Any] = {}

        def looping_request() -> None:
            outcome["response"] = post(base_url, "{ spinner_spin }", looping_token)

        requester = threading.Thread(target=looping_request)
        began = time.monotonic()
        requester.start()
        wait_until_running(spinning, "Query.spinner_spin")

        probes = []
        for _ in range(8):
            start = time.monotonic()
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
                assert response.status == 200
            probes.append(time.monotonic() - start)
            time.sleep(0.02)
        status, other = post(base_url, "{ polls_openCount spinner_hello }", other_token)
        still_looping = requester.is_alive()
        requester.join(timeout=10)
        took = time.monotonic() - began

    assert still_looping, "the probes must run while the resolver loops"
    assert max(probes) < PROBE_LIMIT, [round(p * 1000, 1) for p in probes]
    assert status == 200 and other == {"data": {"polls_openCount": 3, "spinner_hello": "xin chao 00002"}}
    status, body = outcome["response"]
    assert status == 200 and body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "plugin.timeout" and error["path"] == ["spinner_spin"]
    assert "plugin 'spinner'" in error["message"] and "Query.spinner_spin" in error["message"]
    assert DEADLINE <= took < DEADLINE + 2
    assert left() == ["resolver"]  # the loop was interrupted, not abandoned
    assert spinning.plugins.watchdog.running() == []


@pytest.fixture
def gql(spinning: Kernel) -> Iterator[GraphQL]:
    with TestClient(create_app(spinning), raise_server_exceptions=False) as client:
        yield GraphQL(client)


@pytest.mark.parametrize(("field", "where"), [("spinner_asyncSpin", "async resolver"), ("spinner_runSpin", "run work")])
def test_an_async_resolver_and_run_work_are_stopped_too(gql: GraphQL, spinning: Kernel, field: str, where: str) -> None:
    response = gql.post(f"{{ {field} polls_openCount }}", token=token_for(spinning, "00001", "admin"))
    body = response.json()
    assert response.status_code == 200 and codes(response) == ["plugin.timeout"]
    assert body["data"] is None or body["data"]["polls_openCount"] == 3
    assert left() == [where]


def test_repeated_timeouts_quarantine_the_plugin_at_that_tenant_only(gql: GraphQL, spinning: Kernel) -> None:
    token, other = token_for(spinning, "00001", "admin"), token_for(spinning, "00002", "admin")
    for _ in range(2):  # the budget is 2
        assert codes(gql.post("{ spinner_spin }", token=token)) == ["plugin.timeout"]
    refused = gql.post("{ spinner_hello }", token=token)
    assert refused.status_code == 400 and codes(refused) == ["graphql.validation_failed"]  # gone there
    assert gql.data("{ polls_openCount }", token=token) == {"polls_openCount": 3}  # the others stay
    assert gql.data("{ spinner_hello }", token=other) == {"spinner_hello": "xin chao 00002"}
    view = spinning.plugins.activation.view("spinner", "00001")
    assert view.quarantined and "PluginTimeout" in view.quarantined


def test_a_plugin_that_hangs_in_many_requests_holds_only_its_share_of_threads(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    """Six requests to a field that blocks in C (``time.sleep``, which no exception interrupts):
    two hold the plugin's share of threads, the four others wait for a place; every caller gets
    ``plugin.timeout`` at the deadline all the same, and another plugin's field answers at once."""
    plugin_factory.make("spinner", SPINNER_CODE)
    plugin_factory.make("polls", POLLS_CODE)
    limits = PluginCallLimits(deadline=DEADLINE, threads=4, concurrency=2)
    kernel = make_kernel(plugin_error_budget=3, plugin_calls=limits)
    for plugin in ("spinner", "polls"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code="00001", checked=False)
    token = token_for(kernel, "00001", "admin")
    with serving(kernel) as base_url:
        answers: list[tuple[float, str]] = []

        def hang() -> None:
            start = time.monotonic()
            body = post(base_url, "{ spinner_sleep }", token)[1]
            answers.append((time.monotonic() - start, body["errors"][0]["message"]))

        hung = [threading.Thread(target=hang) for _ in range(6)]
        for thread in hung:
            thread.start()
        wait_until_running(kernel, "Query.spinner_sleep")
        time.sleep(0.1)
        running = [call.entry for call in kernel.plugins.watchdog.running()]
        start = time.monotonic()
        status, body = post(base_url, "{ polls_openCount }", token)  # another plugin: a free thread
        answered = time.monotonic() - start
        for thread in hung:
            thread.join(timeout=20)
        time.sleep(2.5)  # the sleeping threads come back
        left_running = kernel.plugins.watchdog.running()
    assert running == ["Query.spinner_sleep"] * 2
    assert status == 200 and body == {"data": {"polls_openCount": 3}}
    assert answered < DEADLINE / 2
    assert all(took < DEADLINE + 1 for took, _message in answers)  # the callers did not wait for the sleep
    assert (
        sorted(message.split(" its deadline")[0] for _took, message in answers)
        == [
            "plugin 'spinner' ran longer than",
        ]
        * 2
        + ["plugin 'spinner' waited for a free plugin thread longer than"] * 4
    )
    # the two that ran past the deadline were charged; the four that only waited were not, so the
    # budget of 3 is not spent
    assert kernel.plugins.dispatcher.enabled(tree.c1.id) == {"spinner", "polls"}
    assert left_running == []


HANGING_CONTRIBUTION_CODE = """
from nentang.sdk import hookimpl


@hookimpl
def nentang_graphql_contribute():
    spins = 0
    while True:
        spins += 1
"""


def test_a_schema_hook_that_hangs_is_left_out_and_the_rest_serves(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("hanging", HANGING_CONTRIBUTION_CODE)
    plugin_factory.make("polls", POLLS_CODE)
    kernel = make_kernel(plugin_calls=PluginCallLimits(deadline=0.3))
    for plugin in ("hanging", "polls"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code="00001", checked=False)
    with TestClient(create_app(kernel), raise_server_exceptions=False) as client:
        gql = GraphQL(client)
        assert gql.data("{ polls_openCount }", token=token_for(kernel, "00001", "admin")) == {"polls_openCount": 3}
        part = client.app.state.graphql.contributions.part("hanging", "0.1.0")  # type: ignore[attr-defined]
    assert not part.usable and "PluginTimeout" in part.problems[0] and "deadline of 0.3 s" in part.problems[0]
