"""Plugins in the GraphQL schema: per-tenant schemas by enabled set, swapped at runtime on every
worker, cached per set, with namespaced contributions and failures that never take the endpoint
down."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.graphql.engine import GraphQLEngine
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.graphql_fixtures import (
    FLAKY_CODE,
    KERNEL_CLASH_CODE,
    NOTES_CODE,
    NOTES_PERMISSIONS,
    POLLS_CODE,
    RAISING_CODE,
    SLOPPY_CODE,
    GraphQL,
    clash_code,
    codes,
    token_for,
)
from tests.identity_fixtures import identity_settings
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

OPERATOR = Actor.command_line()
FIELDS = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("notes", NOTES_CODE, **NOTES_PERMISSIONS)
    plugin_factory.make("polls", POLLS_CODE)
    return make_kernel()


@pytest.fixture
def http(plugged: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(plugged), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def gql(http: TestClient) -> GraphQL:
    return GraphQL(http)


def engine_of(http: TestClient) -> GraphQLEngine:
    engine = http.app.state.graphql  # type: ignore[attr-defined]
    assert isinstance(engine, GraphQLEngine)
    return engine


def enable(kernel: Kernel, plugin: str, tenant: str) -> None:
    kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=tenant, checked=False)


def disable(kernel: Kernel, plugin: str, tenant: str) -> None:
    kernel.plugins.activation.disable(actor=OPERATOR, plugin=plugin, tenant_code=tenant, checked=False)


def root_fields(gql: GraphQL, token: str) -> set[str]:
    schema = gql.data(FIELDS, token=token)["__schema"]
    return {f["name"] for f in schema["queryType"]["fields"]} | {f["name"] for f in schema["mutationType"]["fields"]}


# -- per-tenant schemas ------------------------------------------------------------------------------


def test_two_tenants_with_different_plugin_sets_see_different_schemas(gql: GraphQL, plugged: Kernel) -> None:
    enable(plugged, "notes", "00001")
    enable(plugged, "polls", "00002")
    notes_token, polls_token = token_for(plugged, "00001", "admin"), token_for(plugged, "00002", "admin")

    kernel_fields = {"me", "tenant", "tenants", "createTenant", "renameTenant", "moveTenant"}
    notes_fields, polls_fields = root_fields(gql, notes_token), root_fields(gql, polls_token)
    assert kernel_fields <= notes_fields and kernel_fields <= polls_fields
    assert {"notes_list", "notes_greeting", "notes_boom", "notes_add"} <= notes_fields
    assert {f for f in notes_fields if f.startswith("polls_")} == set()
    assert "polls_openCount" in polls_fields and {f for f in polls_fields if f.startswith("notes_")} == set()
    note_type = '{ __type(name: "NotesNote") { name } }'
    assert gql.data(note_type, token=notes_token) == {"__type": {"name": "NotesNote"}}
    assert gql.data(note_type, token=polls_token) == {"__type": None}

    assert gql.data("{ polls_openCount }", token=polls_token) == {"polls_openCount": 3}
    greeting = gql.data("{ notes_greeting }", token=notes_token)["notes_greeting"]
    assert greeting.startswith("xin chao 00001 from notes to token:")
    for token, field in ((polls_token, "notes_greeting"), (notes_token, "polls_openCount")):
        refused = gql.post(f"{{ {field} }}", token=token)
        assert refused.status_code == 400 and codes(refused) == ["graphql.validation_failed"]


def test_a_field_of_a_plugin_not_enabled_is_reported_exactly_like_a_field_that_never_existed(
    gql: GraphQL, plugged: Kernel
) -> None:
    enable(plugged, "notes", "00001")
    token = token_for(plugged, "00002", "admin")  # notes is installed, but not enabled at 00002
    pairs = [
        ("{ notes_greeting }", "{ zzzzz_greeting }"),
        ('mutation { notes_add(body: "x") { id } }', 'mutation { zzzzz_add(body: "x") { id } }'),
        ("{ notes_list(first: 1) { hasMore } }", "{ zzzzz_list(first: 1) { hasMore } }"),
    ]
    for accept in ("application/graphql-response+json", "application/json"):
        for disabled, never in pairs:
            one, other = gql.post(disabled, token=token, accept=accept), gql.post(never, token=token, accept=accept)
            assert one.status_code == other.status_code
            assert one.headers["content-type"] == other.headers["content-type"]
            assert one.text.replace("notes_", "zzzzz_") == other.text
    for disabled, never in (("NotesNote", "ZzzzzNote"), ("NotesPage", "ZzzzzPage")):
        query = '{{ __type(name: "{0}") {{ name }} }}'
        assert gql.data(query.format(disabled), token=token) == gql.data(query.format(never), token=token)
    fragment = "{{ me {{ ... on {0} {{ id }} }} }}"
    one, other = (
        gql.post(fragment.format("NotesNote"), token=token),
        gql.post(fragment.format("ZzzzzNote"), token=token),
    )
    assert one.text.replace("NotesNote", "ZzzzzNote") == other.text and codes(one) == ["graphql.validation_failed"]


def test_an_anonymous_caller_cannot_tell_where_a_plugin_is_enabled(gql: GraphQL, plugged: Kernel) -> None:
    """#13 item 2: anonymously, a plugin's (non-public) field answered ``auth.required`` where the
    plugin is enabled and ``graphql.validation_failed`` where it is not — a map of which tenant
    runs which plugin. Now both answers are the same, to the byte."""
    enable(plugged, "notes", "00001")
    for accept in ("application/graphql-response+json", "application/json"):
        for document in ("{ notes_list(first: 1) { hasMore } }", 'mutation { notes_add(body: "x") { id } }'):
            enabled = gql.post(document, anonymous=True, tenant="00001", accept=accept)
            missing = gql.post(document, anonymous=True, tenant="00002", accept=accept)
            assert codes(enabled) == ["auth.required"], enabled.text
            assert (missing.status_code, missing.headers["content-type"], missing.text) == (
                enabled.status_code,
                enabled.headers["content-type"],
                enabled.text,
            )
    # A signed-in caller still gets the plain validation error (and a public field still answers).
    token = token_for(plugged, "00002", "admin")
    assert codes(gql.post("{ notes_list(first: 1) { hasMore } }", token=token)) == ["graphql.validation_failed"]
    assert "xin chao 00001" in gql.post("{ notes_greeting }", anonymous=True, tenant="00001").text


def test_enabling_a_plugin_makes_its_fields_appear_on_the_next_request(gql: GraphQL, plugged: Kernel) -> None:
    token = token_for(plugged, "00001", "admin")
    assert codes(gql.post("{ notes_greeting }", token=token)) == ["graphql.validation_failed"]
    enable(plugged, "notes", "00001")
    assert gql.data("{ notes_greeting }", token=token)["notes_greeting"].startswith("xin chao 00001")
    disable(plugged, "notes", "00001")
    assert codes(gql.post("{ notes_greeting }", token=token)) == ["graphql.validation_failed"]


def test_an_enable_on_another_worker_reaches_this_one_without_a_restart(
    gql: GraphQL, plugged: Kernel, make_kernel: KernelFactory
) -> None:
    other_worker = make_kernel()
    token = token_for(plugged, "00001", "admin")
    assert codes(gql.post("{ notes_greeting }", token=token)) == ["graphql.validation_failed"]
    enable(other_worker, "notes", "00001")
    deadline = time.monotonic() + 10
    while gql.post("{ notes_greeting }", token=token).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gql.data("{ notes_greeting }", token=token)["notes_greeting"].startswith("xin chao 00001")
    disable(other_worker, "notes", "00001")
    deadline = time.monotonic() + 10
    while gql.post("{ notes_greeting }", token=token).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert codes(gql.post("{ notes_greeting }", token=token)) == ["graphql.validation_failed"]


# -- the schema cache ------------------------------------------------------------------------------


def test_tenants_with_the_same_set_share_one_schema_object(
    gql: GraphQL, http: TestClient, plugged: Kernel, tree: Tree
) -> None:
    engine = engine_of(http)
    enable(plugged, "notes", "00001")
    enable(plugged, "notes", "00002")
    for code in ("00001", "00002", "00003", "TW"):
        gql.data("{ me { tenant { code } } }", token=token_for(plugged, code, "viewer"))
    assert engine.served_for(tree.c1.id) is engine.served_for(tree.c2.id)
    assert engine.served_for(tree.c3.id) is engine.served_for(tree.central.id)
    assert engine.served_for(tree.c1.id) is not engine.served_for(tree.c3.id)
    assert engine.served_for(tree.c1.id).plugins == ("notes",)
    engine.schemas.wait_idle()
    assert len(engine.schemas) == 2  # {notes} and the kernel alone, whatever the number of tenants


def test_a_new_set_is_built_when_the_change_is_heard_and_requests_in_flight_keep_theirs(
    http: TestClient, plugged: Kernel, tree: Tree
) -> None:
    engine = engine_of(http)
    before = engine.served_for(tree.c1.id)  # what a request in flight holds
    enable(plugged, "notes", "00001")
    engine.schemas.wait_idle()
    assert engine.schemas.peek(engine.key_for(tree.c1.id)) is not None  # built before any request asked
    after = engine.served_for(tree.c1.id)
    assert after is not before and after.plugins == ("notes",)
    assert before.plugins == () and "notes_greeting" not in before.schema.query_type.fields  # unchanged


def test_a_failed_contribution_leaves_the_plugin_out_and_the_endpoint_serving(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("notes", NOTES_CODE, **NOTES_PERMISSIONS)
    plugin_factory.make("raisy", RAISING_CODE)
    kernel = make_kernel()
    enable(kernel, "notes", "00001")
    enable(kernel, "raisy", "00001")
    token = token_for(kernel, "00001", "admin")
    with capture_logs() as logs, TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        gql = GraphQL(http, token=token)
        assert gql.data("{ me { principal } notes_greeting }")["me"]["principal"].startswith("token:")
        served = engine_of(http).served_for(tree.c1.id)
    assert served.plugins == ("notes",)
    assert "RuntimeError: cannot load the form templates" in served.left_out["raisy"][0]
    assert any(e["event"] == "graphql.plugin_left_out" and e["plugin"] == "raisy" for e in logs)


def test_a_contribution_outside_its_namespace_or_with_unbounded_lists_is_left_out_with_every_reason(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("sloppy", SLOPPY_CODE)
    kernel = make_kernel()
    enable(kernel, "sloppy", "00001")
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        gql = GraphQL(http, token=token_for(kernel, "00001", "admin"))
        assert codes(gql.post("{ sloppy_all { name } }")) == ["graphql.validation_failed"]
        problems = " | ".join(engine_of(http).served_for(tree.c1.id).left_out["sloppy"])
    assert "top-level field Query.items must be named sloppy_<something>" in problems
    assert "type Item must start with Sloppy" in problems
    assert "Query.sloppy_all returns a list: take 'first: Int!'" in problems
    assert "Query.items returns a list" in problems


def test_collisions_name_both_sides_the_kernel_keeps_its_names_and_the_first_plugin_by_name_wins(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("tenant", KERNEL_CLASH_CODE)
    plugin_factory.make("alpha", clash_code("alpha"))
    plugin_factory.make("alpha_beta", clash_code("alpha_beta"))
    kernel = make_kernel()
    for plugin in ("tenant", "alpha", "alpha_beta"):
        enable(kernel, plugin, "00001")
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        gql = GraphQL(http, token=token_for(kernel, "00001", "admin"))
        assert gql.data("{ alpha_beta_count }") == {"alpha_beta_count": 5}  # alpha's
        served = engine_of(http).served_for(tree.c1.id)
    assert served.plugins == ("alpha",)
    assert served.left_out["tenant"] == (
        "type TenantEdge of plugin 'tenant' is already defined by the kernel; plugin 'tenant' must rename it",
    )
    assert served.left_out["alpha_beta"] == (
        "Query.alpha_beta_count of plugin 'alpha_beta' is already defined by plugin 'alpha'; "
        "plugin 'alpha_beta' must rename it",
    )


def test_a_set_left_degraded_by_a_transient_failure_is_built_again_and_recovers(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("flaky", FLAKY_CODE)
    kernel = make_kernel(graphql=GraphQLSettings(retry_failed_plugins_after=0.0))
    enable(kernel, "flaky", "00001")
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        gql = GraphQL(http, token=token_for(kernel, "00001", "admin"))
        assert codes(gql.post("{ flaky_ok }")) == ["graphql.validation_failed"]  # left out, endpoint serving
        engine = engine_of(http)
        engine.schemas.peek(engine.key_for(tree.c1.id))  # due for a retry: queued in the background
        engine.schemas.wait_idle()
        assert gql.data("{ flaky_ok }") == {"flaky_ok": True}
        assert engine.served_for(tree.c1.id).left_out == {}


# -- plugin resolvers ------------------------------------------------------------------------------


def test_plugin_resolvers_read_and_write_only_their_tenants_rows(gql: GraphQL, plugged: Kernel) -> None:
    enable(plugged, "notes", "00001")
    enable(plugged, "notes", "00002")
    one, two = token_for(plugged, "00001", "notes.writer"), token_for(plugged, "00002", "notes.writer")
    added = gql.data('mutation { notes_add(body: "họp giao ban") { id body } }', token=one)
    assert added == {"notes_add": {"id": 1, "body": "họp giao ban"}}
    listing = "{ notes_list(first: 10) { items { id body } hasMore } }"
    assert gql.data(listing, token=one)["notes_list"] == {
        "items": [{"id": 1, "body": "họp giao ban"}],
        "hasMore": False,
    }
    assert gql.data(listing, token=two)["notes_list"] == {"items": [], "hasMore": False}


def test_a_refused_plugin_mutation_and_a_mutation_without_permission_change_nothing(
    gql: GraphQL, plugged: Kernel
) -> None:
    enable(plugged, "notes", "00001")
    writer, reader = token_for(plugged, "00001", "notes.writer"), token_for(plugged, "00001", "viewer")
    refused = gql.post('mutation { notes_add(body: "x", refuse: true) { id } }', token=writer)
    assert refused.status_code == 200 and refused.json()["data"] is None
    assert codes(refused) == ["notes.refused"]
    denied = gql.post('mutation { notes_add(body: "x") { id } }', token=reader)
    assert denied.status_code == 200 and codes(denied) == ["permission.denied"]
    assert gql.data("{ notes_list(first: 5) { items { id } } }", token=writer) == {"notes_list": {"items": []}}


def test_anonymous_callers_reach_public_plugin_fields_only(gql: GraphQL, plugged: Kernel) -> None:
    enable(plugged, "notes", "00001")
    greeting = gql.data("{ notes_greeting }", tenant="00001")["notes_greeting"]
    assert greeting == "xin chao 00001 from notes to anonymous"
    refused = gql.post("{ notes_list(first: 1) { hasMore } }", tenant="00001")
    assert refused.status_code == 401 and codes(refused) == ["auth.required"]


def test_an_unexpected_exception_is_masked_to_an_error_id_that_the_log_holds(gql: GraphQL, plugged: Kernel) -> None:
    enable(plugged, "notes", "00001")
    with capture_logs() as logs:
        response = gql.post("{ notes_boom me { principal } }", token=token_for(plugged, "00001", "viewer"))
    body = response.json()
    assert response.status_code == 200 and body["data"]["me"]["principal"].startswith("token:")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "internal" and "corrupt" not in response.text
    assert error["path"] == ["notes_boom"]
    [logged] = [e for e in logs if e["event"] == "graphql.unexpected_error"]
    assert logged["error_id"] == error["extensions"]["errorId"] and logged["log_level"] == "error"
    assert "corrupt" in str(logged["exc_info"])
