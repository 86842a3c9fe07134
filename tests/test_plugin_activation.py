"""Enabling plugins per tenant at runtime: checks, dependencies, settings, policies, rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.models import PluginActivation
from nentang.kernel.plugins.settings import MASK
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.authz_helpers import bootstrap_admin, make_user
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, SETTINGS_SCHEMA, KernelFactory, calls

OPERATOR = Actor.command_line()


def enabled_rows(kernel: Kernel, tenant_id: int) -> dict[str, bool]:
    with kernel.db.tenant(tenant_id) as session:
        return {r.plugin: r.enabled for r in session.scalars(select(PluginActivation))}


def actions(kernel: Kernel, tenant_id: int) -> list[str]:
    with kernel.db.tenant(tenant_id) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


@pytest.fixture
def alpha(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("alpha", RECORDING_CODE, settings_schema=SETTINGS_SCHEMA)
    return make_kernel()


def test_enable_runs_the_setup_hook_records_and_audits(alpha: Kernel, tree: Tree) -> None:
    view = alpha.plugins.activation.enable(
        actor=OPERATOR, plugin="alpha", tenant_code="00001", settings={"greeting": "xin chào"}, checked=False
    )
    assert view.enabled and view.version == "0.1.0" and view.settings == {"greeting": "xin chào"}
    assert calls("alpha") == [("enable", "00001", {"greeting": "xin chào"})]
    assert enabled_rows(alpha, tree.c1.id) == {"alpha": True}
    assert "plugin.enable" in actions(alpha, tree.c1.id)
    assert alpha.plugins.dispatcher.enabled(tree.c1.id) == {"alpha"}
    assert alpha.plugins.dispatcher.enabled(tree.c2.id) == frozenset()


def test_hooks_reach_only_tenants_where_the_plugin_is_enabled(alpha: Kernel, tree: Tree) -> None:
    alpha.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    from nentang.sdk.events import Event

    for tenant in (tree.c1, tree.c2, tree.p1, tree.central):
        event = Event(id=1, type="test.ping", tenant_id=tenant.id)
        alpha.plugins.dispatcher.call_robust(
            "nentang_event_received", tenant_ref(tenant), actor="system:t", event=event
        )
    assert [c for c in calls("alpha") if c[0] == "event"] == [("event", "00001", "test.ping")]


def test_settings_are_validated_and_nothing_changes_on_bad_input(alpha: Kernel, tree: Tree) -> None:
    for bad in ({"limit": 0}, {"limit": "ten"}, {"unknown": 1}, {"greeting": ""}):
        with pytest.raises(ValidationFailed) as refused:
            alpha.plugins.activation.enable(
                actor=OPERATOR, plugin="alpha", tenant_code="00001", settings=bad, checked=False
            )
        assert refused.value.code == "plugin.settings"
    assert enabled_rows(alpha, tree.c1.id) == {}
    assert calls("alpha") == []
    assert "plugin.enable" not in actions(alpha, tree.c1.id)


def test_secrets_are_masked_on_read_and_kept_when_echoed(alpha: Kernel, tree: Tree) -> None:
    activation = alpha.plugins.activation
    view = activation.enable(
        actor=OPERATOR, plugin="alpha", tenant_code="00001", settings={"api_key": "s3cret", "limit": 5}, checked=False
    )
    assert view.settings == {"api_key": MASK, "limit": 5}
    view = activation.update_settings(
        actor=OPERATOR, plugin="alpha", tenant_code="00001", settings={"api_key": MASK, "limit": 7}, checked=False
    )
    assert view.settings == {"api_key": MASK, "limit": 7}
    assert alpha.plugins.dispatcher.activations.get(tree.c1.id).settings["alpha"]["api_key"] == "s3cret"
    with alpha.db.tenant(tree.c1.id) as session:
        entries = " ".join(session.scalars(select(AuditEntry.detail)))
    assert "s3cret" not in entries


def test_a_user_without_the_permission_cannot_enable(alpha: Kernel, tree: Tree) -> None:
    clerk = make_user(alpha, "clerk", tree.c1.id)
    bootstrap_admin(alpha, clerk, tree.c1.id, role="viewer")
    with pytest.raises(PermissionDenied):
        alpha.plugins.activation.enable(actor=clerk, plugin="alpha", tenant_code="00001")
    province_admin = make_user(alpha, "p1.admin", tree.p1.id)
    bootstrap_admin(alpha, province_admin, tree.p1.id)
    with pytest.raises(PermissionDenied):  # beside its subtree
        alpha.plugins.activation.enable(actor=province_admin, plugin="alpha", tenant_code="00003")
    alpha.plugins.activation.enable(actor=province_admin, plugin="alpha", tenant_code="00001")
    assert enabled_rows(alpha, tree.c1.id) == {"alpha": True}
    assert enabled_rows(alpha, tree.c3.id) == {}


def test_a_failing_setup_hook_rolls_everything_back(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make(
        "grumpy",
        """
from nentang.sdk import ValidationFailed, hookimpl

@hookimpl
def nentang_plugin_enable(ctx, settings):
    ctx.audit("setup", "x")
    ctx.emit("grumpy.started", {})
    raise ValidationFailed("the commune has no archive officer yet")
""",
    )
    kernel = make_kernel()
    before = actions(kernel, tree.c1.id)
    with pytest.raises(ValidationFailed, match="no archive officer"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="grumpy", tenant_code="00001", checked=False)
    assert enabled_rows(kernel, tree.c1.id) == {}
    assert actions(kernel, tree.c1.id) == before
    assert kernel.plugins.dispatcher.enabled(tree.c1.id) == frozenset()


def test_a_crashing_setup_hook_is_reported_with_the_plugins_name(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make(
        "crashy",
        "from nentang.sdk import hookimpl\n\n@hookimpl\ndef nentang_plugin_enable(ctx):\n    1 / 0\n",
    )
    kernel = make_kernel()
    with pytest.raises(ValidationFailed) as refused:
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="crashy", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.hook_failed"
    assert "crashy" in refused.value.message and "ZeroDivisionError" in refused.value.message


def test_dependencies(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> None:
    plugin_factory.make("base", RECORDING_CODE)
    plugin_factory.make("addon", requires={"base": ">=0.1"})
    kernel = make_kernel()
    activation = kernel.plugins.activation
    with pytest.raises(ValidationFailed) as refused:
        activation.enable(actor=OPERATOR, plugin="addon", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.missing_dependency"
    assert enabled_rows(kernel, tree.c1.id) == {}
    activation.enable(actor=OPERATOR, plugin="addon", tenant_code="00001", with_dependencies=True, checked=False)
    assert enabled_rows(kernel, tree.c1.id) == {"addon": True, "base": True}
    with pytest.raises(ValidationFailed) as refused:
        activation.disable(actor=OPERATOR, plugin="base", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.has_dependents"
    activation.disable(actor=OPERATOR, plugin="addon", tenant_code="00001", checked=False)
    activation.disable(actor=OPERATOR, plugin="base", tenant_code="00001", checked=False)
    assert enabled_rows(kernel, tree.c1.id) == {"addon": False, "base": False}


def test_levels_are_respected(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> None:
    plugin_factory.make("communal", levels=["commune"])
    kernel = make_kernel()
    with pytest.raises(ValidationFailed) as refused:
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="communal", tenant_code="01", checked=False)
    assert refused.value.code == "plugin.level"


def test_enable_twice_and_disable_when_not_enabled(alpha: Kernel, tree: Tree) -> None:
    activation = alpha.plugins.activation
    with pytest.raises(Conflict):
        activation.disable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    with pytest.raises(Conflict):
        activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    with pytest.raises(NotFound) as missing:
        activation.enable(actor=OPERATOR, plugin="nope", tenant_code="00001", checked=False)
    assert missing.value.code == "plugin.not_installed"


def test_disable_keeps_settings_and_re_enable_finds_them(alpha: Kernel, tree: Tree) -> None:
    activation = alpha.plugins.activation
    activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", settings={"limit": 3}, checked=False)
    activation.disable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert alpha.plugins.dispatcher.enabled(tree.c1.id) == frozenset()
    view = activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert view.settings == {"limit": 3}
    assert [c[0] for c in calls("alpha")] == ["enable", "disable", "enable"]


def test_a_province_can_forbid_a_plugin_below_it(alpha: Kernel, tree: Tree) -> None:
    activation = alpha.plugins.activation
    activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00002", checked=False)
    with pytest.raises(ValidationFailed) as refused:
        activation.set_policy(actor=OPERATOR, plugin="alpha", tenant_code="01", allowed=False, checked=False)
    assert refused.value.code == "plugin.enabled_below" and "00002" in refused.value.message
    activation.disable(actor=OPERATOR, plugin="alpha", tenant_code="00002", checked=False)
    activation.set_policy(actor=OPERATOR, plugin="alpha", tenant_code="01", allowed=False, checked=False)
    with pytest.raises(PermissionDenied) as denied:
        activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert denied.value.code == "plugin.not_allowed"
    activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="01", checked=False)  # the province itself may
    activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00003", checked=False)  # another province's commune
    assert enabled_rows(alpha, tree.c1.id) == {}


def test_a_province_can_lock_a_plugin_on_below_it(alpha: Kernel, tree: Tree) -> None:
    activation = alpha.plugins.activation
    activation.set_policy(actor=OPERATOR, plugin="alpha", tenant_code="01", locked=True, checked=False)
    assert enabled_rows(alpha, tree.c1.id) == {"alpha": True}
    assert enabled_rows(alpha, tree.c2.id) == {"alpha": True}
    assert enabled_rows(alpha, tree.c3.id) == {}
    assert activation.view("alpha", "00001").locked_by == "01"
    with pytest.raises(PermissionDenied) as denied:
        activation.disable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert denied.value.code == "plugin.locked"
    activation.set_policy(actor=OPERATOR, plugin="alpha", tenant_code="01", locked=False, checked=False)
    activation.disable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert enabled_rows(alpha, tree.c1.id) == {"alpha": False}


def test_another_tenant_cannot_read_or_change_activation_rows(alpha: Kernel, tree: Tree) -> None:
    alpha.plugins.activation.enable(
        actor=OPERATOR, plugin="alpha", tenant_code="00001", settings={"api_key": "k1"}, checked=False
    )
    with alpha.db.tenant(tree.c2.id) as session:
        assert session.scalars(select(PluginActivation)).all() == []
        assert session.get(PluginActivation, (tree.c1.id, "alpha")) is None


def test_production_mode_refuses_unapproved_and_modified_plugins(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree, tmp_path
) -> None:
    plugin_factory.make("approved", RECORDING_CODE)
    plugin_factory.make("unreviewed", RECORDING_CODE)
    plugin_factory.approve(tmp_path / "registry.toml", "approved")
    kernel = make_kernel(mode="production")
    assert "approved" in kernel.plugins.host.plugins
    assert kernel.plugins.host.quarantined["unreviewed"].findings[0].code == "approval.missing"
    with pytest.raises(ValidationFailed, match="not approved"):
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="unreviewed", tenant_code="00001", checked=False)
    # one byte changes in an installed file after start-up: the enable names the file
    target = plugin_factory.root / "nentang_approved" / "plugin.py"
    target.write_text(target.read_text() + "#")
    with pytest.raises(PermissionDenied) as refused:
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="approved", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.not_approved"
    assert "plugin.py" in refused.value.message and "approval.file_modified" in refused.value.message
    assert enabled_rows(kernel, tree.c1.id) == {}


def test_development_mode_warns_but_allows_unapproved_plugins(alpha: Kernel, tree: Tree) -> None:
    loaded = alpha.plugins.host.plugins["alpha"]
    assert loaded.approval_warnings and loaded.approval_warnings[0].code == "approval.missing"
    alpha.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)


def test_the_tenant_page_lists_enabled_plugins_on_the_next_request(alpha: Kernel, tree: Tree) -> None:
    from starlette.testclient import TestClient

    from nentang.kernel.http.app import create_app

    with TestClient(create_app(alpha)) as http:
        assert http.get("/t/00001/").json()["plugins"] == []
        alpha.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
        assert http.get("/t/00001/").json()["plugins"] == ["alpha"]
        assert http.get("/t/00002/").json()["plugins"] == []
