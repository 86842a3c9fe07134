"""Managing plugins over GraphQL: what is installed, per-tenant enable, disable, settings (secrets
masked), allow and lock, and rescan — each refused with a clear code, without a trace, where a rule
or the caller's rights say no; and a province never reaches another province's plugins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.models import PluginActivation, PluginPolicy
from nentang.kernel.plugins.settings import MASK, loads
from nentang.kernel.runtime import Kernel
from tests.conftest import Tree
from tests.graphql_fixtures import NOTES_CODE, NOTES_PERMISSIONS, GraphQL, codes, token_for
from tests.identity_fixtures import audit_entries, changes, refusal_actions
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, SETTINGS_SCHEMA, KernelFactory

OPERATOR = Actor.command_line()
BROKEN_CODE = 'raise RuntimeError("cannot load the form templates")'
ACTIVATION = "name enabled version settings allowed tenant { code } lockedBy { code } notAllowedBy { code }"
RULES = "rule { allowed locked } rules { tenant { code } allowed locked updatedBy }"
ENABLE = f"""mutation($plugin: String!, $tenant: String!, $settings: JSON) {{
    enablePlugin(plugin: $plugin, tenant: $tenant, settings: $settings) {{ {ACTIVATION} }} }}"""
DISABLE = f"""mutation($plugin: String!, $tenant: String!) {{
    disablePlugin(plugin: $plugin, tenant: $tenant) {{ {ACTIVATION} }} }}"""
SETTINGS = f"""mutation($plugin: String!, $tenant: String!, $settings: JSON!) {{
    updatePluginSettings(plugin: $plugin, tenant: $tenant, settings: $settings) {{ {ACTIVATION} }} }}"""
POLICY = f"""mutation($plugin: String!, $tenant: String!, $allowed: Boolean, $locked: Boolean) {{
    setPluginPolicy(plugin: $plugin, tenant: $tenant, allowed: $allowed, locked: $locked) {{
        {ACTIVATION} {RULES} }} }}"""
AT = f"""query($tenant: String!, $first: Int! = 50, $after: String) {{
    pluginActivations(tenant: $tenant, first: $first, after: $after) {{
        edges {{ node {{ {ACTIVATION} {RULES} plugin {{ name }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
RESCAN = "mutation { rescanPlugins { registered { name status } quarantined { name quarantineReason } unchanged } }"


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("notes", NOTES_CODE, **NOTES_PERMISSIONS)
    plugin_factory.make("alpha", RECORDING_CODE, settings_schema=SETTINGS_SCHEMA)
    plugin_factory.make("communal", levels=["commune"])
    plugin_factory.make("broken", BROKEN_CODE)
    return make_kernel()


@pytest.fixture
def gql(plugged: Kernel) -> Iterator[GraphQL]:
    with TestClient(create_app(plugged), raise_server_exceptions=False) as http:
        yield GraphQL(http, token=token_for(plugged, "TW", "admin"))


def state(kernel: Kernel, tree: Tree) -> tuple[Any, ...]:
    """Everything a plugin mutation may change: activation rows, rules, audit chains."""
    tenants = (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)
    rows = {}
    for tenant in tenants:
        with kernel.db.tenant(tenant.id) as session:
            found = session.scalars(select(PluginActivation)).all()
            rows[tenant.code] = {(r.plugin, r.enabled, r.settings, r.locked_by) for r in found}
    with kernel.db.platform() as session:
        rules = {(p.tenant_id, p.plugin, p.allowed, p.locked) for p in session.scalars(select(PluginPolicy))}
    return rows, rules, {t.code: len(changes(kernel, t.id)) for t in tenants}


def stored_settings(kernel: Kernel, tenant_id: int, plugin: str) -> dict[str, Any]:
    with kernel.db.tenant(tenant_id) as session:
        row = session.get(PluginActivation, (tenant_id, plugin))
        return kernel.plugins.secrets.open_secrets(loads(row.settings)) if row else {}


def at(gql: GraphQL, tenant: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    page = gql.data(AT, {"tenant": tenant}, **kwargs)["pluginActivations"]
    return {edge["node"]["name"]: edge["node"] for edge in page["edges"]}


def refused(gql: GraphQL, query: str, variables: dict[str, Any], **kwargs: Any) -> list[str]:
    response = gql.post(query, variables, **kwargs)
    assert response.status_code == 200 and nothing(response), response.json()
    return codes(response)


def nothing(response: Any) -> bool:
    """Whether the response carries no data (a refused field reads null)."""
    data = response.json()["data"]
    return data is None or all(value is None for value in data.values())


# -- what is installed ----------------------------------------------------------------------------


def test_plugins_lists_what_is_installed_with_manifest_quarantine_and_approval(
    gql: GraphQL, plugged: Kernel, plugin_factory: PluginFactory, tmp_path: Path
) -> None:
    plugin_factory.approve(tmp_path / "registry.toml", "alpha")
    query = """query($after: String) { plugins(first: 2, after: $after) { edges { node {
        name version status title { vi en } levels requires permissions { name description }
        settingsSchema quarantineReason findings { code } approval } } pageInfo { hasNextPage endCursor } } }"""
    first = gql.data(query)["plugins"]
    second = gql.data(query, {"after": first["pageInfo"]["endCursor"]})["plugins"]
    assert first["pageInfo"]["hasNextPage"] and not second["pageInfo"]["hasNextPage"]
    found = {e["node"]["name"]: e["node"] for e in first["edges"] + second["edges"]}
    assert list(found) == ["alpha", "broken", "communal", "notes"]
    alpha, broken, notes = found["alpha"], found["broken"], found["notes"]
    assert (alpha["status"], alpha["approval"], alpha["version"]) == ("REGISTERED", "APPROVED", "0.1.0")
    assert alpha["title"] == {"vi": "Tiện ích alpha", "en": "Plugin alpha"}
    assert alpha["settingsSchema"] == SETTINGS_SCHEMA and alpha["quarantineReason"] is None
    assert notes["permissions"] == [{"name": "notes.write", "description": "Write notes"}]
    assert notes["approval"] == "UNAPPROVED" and found["communal"]["levels"] == ["commune"]
    assert broken["status"] == "QUARANTINED" and broken["title"] is None and broken["settingsSchema"] is None
    assert "RuntimeError: cannot load the form templates" in broken["quarantineReason"]


def test_rescan_registers_new_plugins_reports_refused_ones_and_is_the_platforms_act(
    gql: GraphQL, plugged: Kernel, plugin_factory: PluginFactory, tree: Tree
) -> None:
    plugin_factory.make("late")
    plugin_factory.make("late_broken", BROKEN_CODE)
    province = token_for(plugged, "01", "admin")
    assert refused(gql, RESCAN, {}, token=province) == ["permission.denied"]
    assert "late" not in plugged.plugins.host.plugins  # the refused call scanned nothing
    report = gql.data(RESCAN)["rescanPlugins"]
    assert report["registered"] == [{"name": "late", "status": "REGISTERED"}]
    [quarantined] = report["quarantined"]
    assert quarantined["name"] == "late_broken" and "cannot load" in quarantined["quarantineReason"]
    assert set(report["unchanged"]) == {"alpha", "broken", "communal", "notes"}
    assert "late" in plugged.plugins.host.plugins
    [(actor, detail)] = [(e[1], e[3]) for e in audit_entries(plugged, tree.central.id) if e[0] == "plugin.rescan"]
    assert actor.startswith("token:") and detail == {"registered": ["late"], "quarantined": ["late_broken"]}


# -- enable, disable, settings -------------------------------------------------------------------


def test_enabling_makes_the_plugins_fields_appear_on_the_next_request_and_disabling_removes_them(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    commune = token_for(plugged, "00001", "admin")
    assert codes(gql.post("{ notes_greeting }", token=commune)) == ["graphql.validation_failed"]
    enabled = gql.data(ENABLE, {"plugin": "notes", "tenant": "00001"}, token=commune)["enablePlugin"]
    assert (enabled["name"], enabled["enabled"], enabled["tenant"], enabled["allowed"]) == (
        "notes",
        True,
        {"code": "00001"},
        True,
    )
    assert gql.data("{ notes_greeting }", token=commune)["notes_greeting"].startswith("xin chao 00001")
    assert gql.data(DISABLE, {"plugin": "notes", "tenant": "00001"}, token=commune)["disablePlugin"]["enabled"] is False
    assert codes(gql.post("{ notes_greeting }", token=commune)) == ["graphql.validation_failed"]
    enable_entries = [e for e in audit_entries(plugged, tree.c1.id) if e[0].startswith("plugin.")]
    assert [(a, t) for a, _, t, _ in enable_entries] == [("plugin.enable", "notes"), ("plugin.disable", "notes")]
    assert all(actor.startswith("token:") for _, actor, _, _ in enable_entries)


def test_settings_are_validated_and_secrets_never_leave_the_server(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    wanted = {"greeting": "xin chào", "limit": 5, "api_key": "s3cret-key"}
    response = gql.post(ENABLE, {"plugin": "alpha", "tenant": "00001", "settings": wanted})
    assert response.json()["data"]["enablePlugin"]["settings"] == {**wanted, "api_key": MASK}
    assert "s3cret-key" not in response.text
    listing = gql.post(AT, {"tenant": "00001"})
    assert "s3cret-key" not in listing.text
    assert at(gql, "00001")["alpha"]["settings"] == {**wanted, "api_key": MASK}

    echoed = {"greeting": "chào", "limit": 7, "api_key": MASK}  # the mask written back keeps the secret
    updated = gql.data(SETTINGS, {"plugin": "alpha", "tenant": "00001", "settings": echoed})
    assert updated["updatePluginSettings"]["settings"] == echoed
    assert stored_settings(plugged, tree.c1.id, "alpha") == {**echoed, "api_key": "s3cret-key"}

    before = state(plugged, tree)
    bad = gql.post(SETTINGS, {"plugin": "alpha", "tenant": "00001", "settings": {"limit": 0, "colour": "red"}})
    assert codes(bad) == ["plugin.settings"]
    message = bad.json()["errors"][0]["message"]
    assert "'alpha'" in message and "limit" in message and "colour" in message
    for settings in ([1, 2], "limit=5", 5):
        assert refused(gql, SETTINGS, {"plugin": "alpha", "tenant": "00001", "settings": settings}) == [
            "plugin.settings_json"
        ]
    assert refused(gql, ENABLE, {"plugin": "alpha", "tenant": "00002", "settings": {"limit": 500}}) == [
        "plugin.settings"
    ]
    assert state(plugged, tree) == before


def test_every_bad_request_is_a_clear_error_and_changes_nothing(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    gql.data(ENABLE, {"plugin": "alpha", "tenant": "00001"})
    before = state(plugged, tree)
    cases = [
        (ENABLE, {"plugin": "nosuch", "tenant": "00001"}, "plugin.not_installed"),
        (DISABLE, {"plugin": "nosuch", "tenant": "00001"}, "plugin.not_enabled"),
        (SETTINGS, {"plugin": "nosuch", "tenant": "00001", "settings": {}}, "plugin.not_installed"),
        (POLICY, {"plugin": "nosuch", "tenant": "01", "allowed": False}, "plugin.not_installed"),
        (ENABLE, {"plugin": "broken", "tenant": "00001"}, "plugin.quarantined"),
        (ENABLE, {"plugin": "alpha", "tenant": "99"}, "tenant.not_found"),
        (DISABLE, {"plugin": "alpha", "tenant": "99"}, "tenant.not_found"),
        (SETTINGS, {"plugin": "alpha", "tenant": "99", "settings": {}}, "tenant.not_found"),
        (POLICY, {"plugin": "alpha", "tenant": "99", "allowed": False}, "tenant.not_found"),
        (ENABLE, {"plugin": "alpha", "tenant": "00001"}, "plugin.already_enabled"),
        (DISABLE, {"plugin": "alpha", "tenant": "00002"}, "plugin.not_enabled"),
        (SETTINGS, {"plugin": "alpha", "tenant": "00002", "settings": {}}, "plugin.not_enabled"),
        (ENABLE, {"plugin": "communal", "tenant": "01"}, "plugin.level"),
        (POLICY, {"plugin": "alpha", "tenant": "01"}, "plugin.policy"),  # neither allowed nor locked
        (POLICY, {"plugin": "alpha", "tenant": "01", "allowed": False, "locked": True}, "plugin.policy"),
        (POLICY, {"plugin": "alpha", "tenant": "01", "allowed": False}, "plugin.enabled_below"),
    ]
    for query, variables, code in cases:
        assert refused(gql, query, variables) == [code], (variables, code)
    assert codes(gql.post(AT, {"tenant": "99"})) == ["tenant.not_found"]
    for cursor in ("not-a-cursor", "WzEsMl0"):
        assert codes(gql.post(AT, {"tenant": "01", "after": cursor})) == ["graphql.bad_cursor"]
    too_many = gql.post(AT, {"tenant": "01", "first": 101})
    assert too_many.status_code == 400 and codes(too_many) == ["graphql.page_size"]
    assert codes(gql.post('{ plugins(first: 1, after: "x") { edges { cursor } } }')) == ["graphql.bad_cursor"]
    assert state(plugged, tree) == before


# -- allow and lock -------------------------------------------------------------------------------


def test_a_province_forbids_then_locks_a_plugin_below_it(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    province = token_for(plugged, "01", "admin")
    forbid = gql.data(POLICY, {"plugin": "alpha", "tenant": "01", "allowed": False}, token=province)["setPluginPolicy"]
    assert forbid["rule"] == {"allowed": False, "locked": False} and forbid["tenant"] == {"code": "01"}
    assert forbid["allowed"] is True  # a rule governs the tenants below, not the province itself
    before = state(plugged, tree)
    assert refused(gql, ENABLE, {"plugin": "alpha", "tenant": "00001"}) == ["plugin.not_allowed"]
    assert state(plugged, tree) == before
    commune = at(gql, "00001")["alpha"]
    assert (commune["allowed"], commune["notAllowedBy"], commune["enabled"]) == (False, {"code": "01"}, False)
    assert [(r["tenant"], r["allowed"]) for r in commune["rules"]] == [({"code": "01"}, False)]
    assert commune["rules"][0]["updatedBy"].startswith("token:") and commune["rule"] is None
    assert at(gql, "00003")["alpha"]["allowed"] is True  # another province's communes are not concerned

    locked = gql.data(POLICY, {"plugin": "alpha", "tenant": "01", "allowed": True, "locked": True}, token=province)
    assert locked["setPluginPolicy"]["rule"] == {"allowed": True, "locked": True}
    for code in ("00001", "00002"):
        assert at(gql, code)["alpha"]["enabled"] is True and at(gql, code)["alpha"]["lockedBy"] == {"code": "01"}
    assert at(gql, "00003")["alpha"]["enabled"] is False
    before = state(plugged, tree)
    assert refused(gql, DISABLE, {"plugin": "alpha", "tenant": "00001"}) == ["plugin.locked"]
    assert state(plugged, tree) == before
    gql.data(POLICY, {"plugin": "alpha", "tenant": "01", "locked": False}, token=province)
    assert gql.data(DISABLE, {"plugin": "alpha", "tenant": "00001"})["disablePlugin"]["enabled"] is False


# -- who may -------------------------------------------------------------------------------------


def test_a_province_neither_reads_nor_changes_another_provinces_plugins(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    gql.data(ENABLE, {"plugin": "alpha", "tenant": "00003", "settings": {"api_key": "theirs"}})
    province, viewer = token_for(plugged, "01", "admin"), token_for(plugged, "01", "viewer")
    assert set(at(gql, "00001", token=province)) == {"alpha", "communal", "notes"}
    before = state(plugged, tree)
    attempts = [
        (province, AT, {"tenant": "02"}),
        (province, AT, {"tenant": "00003"}),
        (province, ENABLE, {"plugin": "notes", "tenant": "00003"}),
        (province, DISABLE, {"plugin": "alpha", "tenant": "00003"}),
        (province, SETTINGS, {"plugin": "alpha", "tenant": "00003", "settings": {"limit": 9}}),
        (province, POLICY, {"plugin": "alpha", "tenant": "02", "allowed": False}),
        (province, POLICY, {"plugin": "alpha", "tenant": "TW", "locked": True}),
        (viewer, ENABLE, {"plugin": "alpha", "tenant": "00001"}),  # no kernel.plugins.manage
        (viewer, AT, {"tenant": "01"}),
        (viewer, "{ plugins(first: 5) { edges { cursor } } }", {}),
    ]
    for token, query, variables in attempts:
        response = gql.post(query, variables, token=token)
        assert codes(response) == ["permission.denied"], variables
        assert "theirs" not in response.text and nothing(response)
    assert state(plugged, tree) == before
    # Only the record of the refused mutations: in the tenant aimed at, and in the actors' own.
    assert "graphql.refused" in refusal_actions(plugged, tree.c3.id)
    assert "graphql.refused" in refusal_actions(plugged, tree.central.id)
    assert refusal_actions(plugged, tree.p1.id).count("graphql.refused") >= 2  # the province and the viewer


def test_anonymous_callers_are_asked_to_sign_in(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    before = state(plugged, tree)
    for query, variables in (
        (ENABLE, {"plugin": "alpha", "tenant": "00001"}),
        (AT, {"tenant": "00001"}),
        (RESCAN, {}),
        ("{ plugins(first: 5) { edges { cursor } } }", {}),
    ):
        response = gql.post(query, variables, anonymous=True, tenant="00001")
        assert response.status_code == 401 and codes(response) == ["auth.required"]
    assert state(plugged, tree) == before
