"""The SDK's test kit (``nentang.sdk.testing``), used the way a plugin's tests use it.

Throwaway plugins come from the kernel suite's ``plugin_factory`` (a real dist-info on
``sys.path``); the kit's kernel discovers them like any installed plugin. They are made by the
``installed`` fixture, which every test here uses first, so that they exist when the kit's kernel
starts.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import column, select, table

from nentang.sdk import TenantRef
from nentang.sdk.errors import NotFound, ScopeViolation
from nentang.sdk.testing import (
    FIXTURES,
    MARKERS,
    EnablePlugin,
    GraphQLClient,
    GraphQLUnavailable,
    HookRecorder,
    MakeGraphQLClient,
    MakeUser,
    RunningKernel,
    TenantTree,
)
from tests.conftest import NOTES_MIGRATIONS
from tests.fixtures.notes_plugin.models import Note
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE

#: Opt-in arguments: this event handler takes ``event`` only, no ``ctx``.
TERSE_CODE = """
from nentang.sdk import hookimpl

@hookimpl
def nentang_event_received(event):
    if event.type == "kit.boom":
        raise RuntimeError("the archive is offline")
"""

pytestmark = pytest.mark.usefixtures("installed")


@pytest.fixture
def installed(plugin_factory: PluginFactory) -> PluginFactory:
    plugin_factory.make(
        "kitalpha",
        RECORDING_CODE,
        permissions=[{"name": "kitalpha.read", "description": "Read"}],
        roles=[{"name": "kitalpha.reader", "description": "Reads", "permissions": ["kitalpha.read"]}],
    )
    plugin_factory.make("kitterse", TERSE_CODE)
    return plugin_factory


# -- a typical plugin test: three to five lines -------------------------------------------------------


@pytest.mark.nentang_plugins("kitalpha")
def test_a_typical_plugin_test(nentang_tree: TenantTree, nentang_hooks: HookRecorder) -> None:
    assert nentang_hooks.tenants("nentang_plugin_enable", plugin="kitalpha") == ["00001"]
    assert nentang_hooks.events(nentang_tree.commune, type="kernel.plugin.enabled")


# -- the kernel, its database, its tree -----------------------------------------------------------------


def test_each_test_starts_on_an_empty_migrated_database(nentang_kernel: RunningKernel) -> None:
    assert nentang_kernel.raw.tenants.count() == 0
    assert nentang_kernel.raw.pending_migrations() == set()
    assert nentang_kernel.installed >= {"kitalpha", "kitterse"}
    assert nentang_kernel.enabled(nentang_kernel.tree.commune) == frozenset()


def test_the_tree_has_three_levels_and_two_communes(nentang_tree: TenantTree) -> None:
    assert [(t.code, t.kind) for t in nentang_tree] == [
        ("TW", "central"),
        ("01", "province"),
        ("00001", "commune"),
        ("00002", "commune"),
    ]
    assert all(isinstance(t, TenantRef) for t in nentang_tree)
    assert nentang_tree.commune.path == (nentang_tree.central.id, nentang_tree.province.id, nentang_tree.commune.id)
    assert nentang_tree["commune"] is nentang_tree.commune and nentang_tree["00002"] is nentang_tree.other_commune
    with pytest.raises(KeyError, match="no tenant 'district'"):
        nentang_tree["district"]


@pytest.mark.nentang_settings(plugin_error_budget=2)
def test_the_settings_marker_reaches_the_kernel(nentang_kernel: RunningKernel) -> None:
    assert nentang_kernel.raw.settings.plugin_error_budget == 2
    assert nentang_kernel.raw.settings.mode == "development"


@pytest.mark.nentang_settings(extra_migration_locations=(NOTES_MIGRATIONS,))
def test_extra_branches_get_a_template_of_their_own_and_rows_stay_in_their_tenant(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree
) -> None:
    with nentang_kernel.session(nentang_tree.commune) as session:
        session.add(Note(id=1, body="chỉ ở phường Một"))
    with nentang_kernel.session(nentang_tree.other_commune) as session:
        assert session.scalars(select(Note)).all() == []
    with nentang_kernel.session() as session:  # the commune by default
        assert [n.body for n in session.scalars(select(Note))] == ["chỉ ở phường Một"]


# -- enabling ---------------------------------------------------------------------------------------------


@pytest.mark.nentang_plugins("kitalpha", settings={"kitalpha": {}})
@pytest.mark.nentang_plugins("kitterse", at="province")
def test_markers_enable_where_they_say_and_nowhere_else(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree
) -> None:
    assert nentang_kernel.enabled(nentang_tree.commune) == {"kitalpha"}
    assert nentang_kernel.enabled(nentang_tree.province) == {"kitterse"}
    assert nentang_kernel.enabled(nentang_tree.other_commune) == frozenset()


@pytest.mark.nentang_plugins("kitalpha", settings={"greeting": "Xin chào"})
def test_marker_settings_not_keyed_by_plugin_are_a_usage_error(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.UsageError, match=r"settings are keyed by plugin name.*\['greeting'\]"):
        request.getfixturevalue("nentang_kernel")


def test_the_enable_factory_and_disable(
    nentang_enable: EnablePlugin, nentang_kernel: RunningKernel, nentang_tree: TenantTree, nentang_hooks: HookRecorder
) -> None:
    nentang_enable("kitalpha", nentang_tree.other_commune)
    assert nentang_kernel.enabled("00002") == {"kitalpha"}
    nentang_kernel.disable("kitalpha", "00002")
    assert nentang_kernel.enabled("00002") == frozenset()
    assert [c.hook for c in nentang_hooks.calls(plugin="kitalpha")] == [
        "nentang_plugin_enable",
        "nentang_plugin_disable",
    ]


def test_enabling_a_plugin_that_is_not_installed_says_so(nentang_kernel: RunningKernel) -> None:
    with pytest.raises(NotFound, match="'nope' is not installed in this environment") as refused:
        nentang_kernel.enable("nope")
    assert refused.value.code == "testing.plugin_not_installed"


# -- the hook recorder --------------------------------------------------------------------------------------


@pytest.mark.nentang_plugins("kitalpha", "kitterse")
def test_hook_calls_are_recorded_per_tenant(nentang_kernel: RunningKernel, nentang_hooks: HookRecorder) -> None:
    nentang_hooks.clear()
    nentang_kernel.emit("kit.ping", {"n": 1})  # at the commune, where both are enabled
    nentang_kernel.emit("kit.ping", {"n": 2}, tenant="00002")  # nowhere enabled
    nentang_kernel.deliver_events()
    received = [
        c
        for c in nentang_hooks.calls("nentang_event_received", tenant="00001")
        if c.arguments["event"].type == "kit.ping"
    ]
    assert sorted(c.plugin for c in received) == ["kitalpha", "kitterse"]
    assert set(nentang_hooks.tenants("nentang_event_received", plugin="kitterse")) == {"00001"}  # takes no ctx
    assert not nentang_hooks.called("nentang_event_received", tenant="00002")
    assert all(c.actor == "system:events" for c in received)
    assert [e.payload for e in nentang_hooks.events(type="kit.*")] == [{"n": 1}, {"n": 2}]
    assert [e.payload for e in nentang_hooks.events("00002", type="kit.ping")] == [{"n": 2}]


@pytest.mark.nentang_plugins("kitterse")
def test_a_raising_hook_is_recorded_with_its_error(nentang_kernel: RunningKernel, nentang_hooks: HookRecorder) -> None:
    nentang_kernel.emit("kit.boom")
    nentang_kernel.deliver_events()
    (call,) = [c for c in nentang_hooks.calls("nentang_event_received") if c.arguments["event"].type == "kit.boom"]
    assert call.error == "RuntimeError: the archive is offline"


def test_the_recorder_unwraps_when_the_kernel_closes(nentang_kernel: RunningKernel) -> None:
    pm = nentang_kernel.raw.plugins.host.pm
    impls = pm.hook.nentang_event_received.get_hookimpls()
    assert all(getattr(i.function, "__nentang_recorded__", False) for i in impls)
    nentang_kernel.close()
    assert not any(getattr(i.function, "__nentang_recorded__", False) for i in impls)
    assert [tuple(i.argnames) for i in impls if i.plugin_name == "kitterse"] == [("event",)]


def test_call_hook_reaches_only_enabled_plugins(nentang_kernel: RunningKernel, nentang_tree: TenantTree) -> None:
    nentang_kernel.enable("kitalpha")
    nentang_kernel.call_hook("nentang_plugin_disable", nentang_tree.other_commune)
    assert not nentang_kernel.hooks.called("nentang_plugin_disable")
    nentang_kernel.call_hook("nentang_plugin_disable")
    assert nentang_kernel.hooks.tenants("nentang_plugin_disable") == ["00001"]


# -- users, contexts, HTTP, GraphQL ---------------------------------------------------------------------


def test_users_get_their_roles_where_asked(
    nentang_user: MakeUser, nentang_kernel: RunningKernel, nentang_tree: TenantTree
) -> None:
    reader = nentang_user("kitalpha.reader")  # a plugin's role template, usable before any enable
    chief = nentang_user("admin", tenant=nentang_tree.commune, at=nentang_tree.province, username="chief")
    assert reader.username == "user1" and reader.home == nentang_tree.commune
    assert chief.grants == (("admin", "01"),)
    with nentang_kernel.context("kitalpha", actor=reader) as ctx:
        assert ctx.tenant == nentang_tree.commune and ctx.actor == reader.principal
        assert ctx.has_permission("kitalpha.read") and not ctx.has_permission("kernel.tenants.read")
    with nentang_kernel.context("kitalpha", nentang_tree.other_commune, actor=chief) as ctx:
        assert ctx.has_permission("kernel.tenants.read")  # granted at the province, holds below it


def test_a_context_block_runs_as_the_plugins_code(nentang_kernel: RunningKernel) -> None:
    refused = r"plugin 'kitalpha' \(tests\) may not use table kernel_user"
    with pytest.raises(ScopeViolation, match=refused), nentang_kernel.context("kitalpha") as ctx:
        ctx.session.execute(select(table("kernel_user", column("username")))).all()


def test_the_http_client_is_the_real_app(
    nentang_http: httpx.Client, nentang_kernel: RunningKernel, nentang_user: MakeUser
) -> None:
    assert nentang_http.get("/healthz").status_code == 200
    assert nentang_http.get("/auth/me").status_code == 401
    user = nentang_user(password="correct horse battery staple")
    me = nentang_http.get("/auth/me", headers=nentang_kernel.headers_for(user))
    assert me.status_code == 200 and me.json()["principal"] == user.principal


def test_graphql_acts_as_the_user_in_the_tenant(
    nentang_graphql: MakeGraphQLClient, nentang_user: MakeUser, nentang_tree: TenantTree
) -> None:
    admin = nentang_user("admin", tenant=nentang_tree.central)
    gql = nentang_graphql(admin, nentang_tree.commune)
    assert isinstance(gql, GraphQLClient) and gql.tenant == "00001" and gql.user == admin.principal
    assert gql.data("{ __typename }") == {"__typename": "Query"}
    stranger = nentang_user(tenant=nentang_tree.other_commune)
    refused = nentang_graphql(stranger, nentang_tree.commune)("{ __typename }")
    assert not refused.ok and refused.codes == ("tenant.forbidden",)


def test_a_kernel_without_graphql_is_named_as_such() -> None:
    def not_found(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="Not Found")

    http = httpx.Client(transport=httpx.MockTransport(not_found), base_url="http://kernel")
    client = GraphQLClient(http, {}, user=None, tenant="00001")
    with pytest.raises(GraphQLUnavailable, match="GraphQL not available in this kernel"):
        client("{ __typename }")


def test_the_kit_lists_its_fixtures_and_markers(pytestconfig: pytest.Config) -> None:
    fixtures = pytestconfig.pluginmanager.get_plugin("nentang")
    assert fixtures is not None, "the kit is loaded through its pytest11 entry point"
    assert all(hasattr(fixtures, name) for name in FIXTURES)
    registered = " ".join(pytestconfig.getini("markers"))
    assert all(f"{marker}(" in registered for marker in MARKERS)
