"""``releasePlugin`` over GraphQL, the counterpart of ``nentang plugin release``: it lifts a plugin's
quarantine at the one tenant named, audited there; a caller needs ``kernel.plugins.manage`` at that
tenant (a grant at an ancestor counts), and every refusal leaves the quarantines and the audit
chains as they were."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.models import PluginQuarantine
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, codes, token_for
from tests.identity_fixtures import actions, audit_entries, changes, refusal_actions
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory

OPERATOR = Actor.command_line()
RELEASE = """mutation($plugin: String!, $tenant: String!) {
    releasePlugin(plugin: $plugin, tenant: $tenant) { name released tenant { code } } }"""
QUARANTINED = """query($tenant: String!) { pluginActivations(tenant: $tenant, first: 50) {
    edges { node { name quarantined } } } }"""


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("alpha", RECORDING_CODE)
    kernel = make_kernel()
    for code in ("00001", "00002", "00003"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code=code, checked=False)
    return kernel


@pytest.fixture
def gql(plugged: Kernel) -> Iterator[GraphQL]:
    with TestClient(create_app(plugged), raise_server_exceptions=False) as http:
        yield GraphQL(http, token=token_for(plugged, "TW", "admin"))


def quarantine(kernel: Kernel, tenant: TenantInfo, plugin: str = "alpha") -> None:
    """Spend the plugin's error budget at the tenant, as failing hooks do."""
    for _ in range(kernel.plugins.budget.budget):
        kernel.plugins.budget.failed(plugin, tenant_ref(tenant), RuntimeError("the archive is offline"))


def quarantines(kernel: Kernel) -> set[tuple[int, str]]:
    with kernel.db.platform() as session:
        return {(q.tenant_id, q.plugin) for q in session.scalars(select(PluginQuarantine))}


def state(kernel: Kernel, tree: Tree) -> tuple[Any, ...]:
    """What a release may change: the quarantines, and every tenant's audit chain."""
    tenants = (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)
    return quarantines(kernel), {t.code: changes(kernel, t.id) for t in tenants}


def quarantined_at(gql: GraphQL, tenant: str) -> str | None:
    edges = gql.data(QUARANTINED, {"tenant": tenant})["pluginActivations"]["edges"]
    return next(e["node"]["quarantined"] for e in edges if e["node"]["name"] == "alpha")


def test_a_province_releases_its_communes_quarantine_and_only_that_one(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    quarantine(plugged, tree.c1)
    quarantine(plugged, tree.c2)
    assert "the archive is offline" in (quarantined_at(gql, "00001") or "")
    province = token_for(plugged, "01", "admin")

    answer = gql.data(RELEASE, {"plugin": "alpha", "tenant": "00001"}, token=province)["releasePlugin"]
    assert answer == {"name": "alpha", "released": True, "tenant": {"code": "00001"}}
    assert quarantines(plugged) == {(tree.c2.id, "alpha")}  # the sister commune stays quarantined
    assert quarantined_at(gql, "00001") is None
    assert "the archive is offline" in (quarantined_at(gql, "00002") or "")
    [(actor, target, detail)] = [
        (e[1], e[2], e[3]) for e in audit_entries(plugged, tree.c1.id) if e[0] == "plugin.release"
    ]
    assert actor.startswith("token:") and target == "alpha" and detail == {}  # once: the budget audits it
    assert "plugin.release" not in actions(plugged, tree.c2.id)
    assert "plugin.release" not in actions(plugged, tree.p1.id)


def test_releasing_a_plugin_not_quarantined_there_says_so_and_changes_nothing(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    quarantine(plugged, tree.c2)
    before = state(plugged, tree)
    answer = gql.data(RELEASE, {"plugin": "alpha", "tenant": "00001"})["releasePlugin"]
    assert answer == {"name": "alpha", "released": False, "tenant": {"code": "00001"}}
    assert state(plugged, tree) == before


def test_the_quarantine_of_a_plugin_since_uninstalled_can_still_be_lifted(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    quarantine(plugged, tree.c1, plugin="gone")  # its rows outlive the package
    assert gql.data(RELEASE, {"plugin": "gone", "tenant": "00001"})["releasePlugin"]["released"] is True
    assert quarantines(plugged) == set()


def test_every_bad_request_is_refused_and_changes_nothing(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    quarantine(plugged, tree.c1)
    quarantine(plugged, tree.c3)
    province, viewer = token_for(plugged, "01", "admin"), token_for(plugged, "01", "viewer")
    before = state(plugged, tree)
    cases = [
        (None, {"plugin": "nosuch", "tenant": "00001"}, "plugin.not_installed"),
        (None, {"plugin": "alpha", "tenant": "99"}, "tenant.not_found"),
        (province, {"plugin": "alpha", "tenant": "00003"}, "permission.denied"),  # another province's commune
        (province, {"plugin": "alpha", "tenant": "02"}, "permission.denied"),
        (province, {"plugin": "alpha", "tenant": "TW"}, "permission.denied"),  # above it
        (viewer, {"plugin": "alpha", "tenant": "00001"}, "permission.denied"),  # no kernel.plugins.manage
        (province, {"plugin": "nosuch", "tenant": "00003"}, "permission.denied"),  # asks nothing of the plugins there
    ]
    for token, variables, code in cases:
        response = gql.post(RELEASE, variables, token=token)
        assert response.status_code == 200 and codes(response) == [code], (variables, code)
        assert response.json()["data"] is None or response.json()["data"]["releasePlugin"] is None
    anonymous = gql.post(RELEASE, {"plugin": "alpha", "tenant": "00001"}, anonymous=True, tenant="00001")
    assert anonymous.status_code == 401 and codes(anonymous) == ["auth.required"]
    assert state(plugged, tree) == before
    assert quarantines(plugged) == {(tree.c1.id, "alpha"), (tree.c3.id, "alpha")}
    # Only the record of the refusals for want of permission, where they aimed and where the actor is.
    assert "graphql.refused" in refusal_actions(plugged, tree.c3.id)
    assert "graphql.refused" in refusal_actions(plugged, tree.p1.id)
    assert refusal_actions(plugged, tree.c2.id) == []
