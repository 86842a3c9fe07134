"""Dispatch reaches exactly the plugins enabled for each tenant — across random changes, across
workers, and past a plugin whose hooks keep failing."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.models import PluginActivation, PluginPolicy
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NentangError
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory, calls

OPERATOR = Actor.command_line()
PLUGINS = ("red", "green", "blue")
FAILING_CODE = """
from nentang.sdk import hookimpl

CALLS = []

@hookimpl
def nentang_event_received(ctx, event):
    CALLS.append(ctx.tenant.code)
    raise RuntimeError("cannot reach the provincial archive")
"""
_events = itertools.count(1)


def ping(kernel: Kernel, tenant) -> set[str]:  # type: ignore[no-untyped-def]
    """Send one event to a tenant; return which plugins received it."""
    before = {p: len(calls(p)) for p in PLUGINS}
    event = Event(id=next(_events), type="test.ping", tenant_id=tenant.id)
    kernel.plugins.dispatcher.call_robust("nentang_event_received", tenant_ref(tenant), actor="system:t", event=event)
    return {p for p in PLUGINS if len(calls(p)) > before[p]}


@pytest.fixture
def colours(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    for name in PLUGINS:
        plugin_factory.make(name, RECORDING_CODE)
    return make_kernel()


ops = st.lists(
    st.tuples(
        st.sampled_from(["enable", "disable", "allow", "deny", "lock", "unlock"]),
        st.sampled_from(PLUGINS),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_hooks_reach_exactly_the_enabled_plugins(colours: Kernel, tree: Tree, sequence: list) -> None:
    tenants = [tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3]
    activation = colours.plugins.activation
    for kind, plugin, index in sequence:
        code = tenants[index].code
        try:
            if kind == "enable":
                activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)
            elif kind == "disable":
                activation.disable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)
            else:
                policy = {
                    "allow": {"allowed": True},
                    "deny": {"allowed": False},
                    "lock": {"locked": True},
                    "unlock": {"locked": False},
                }[kind]
                activation.set_policy(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False, **policy)
        except NentangError:
            pass  # refused changes are part of the property: they must change nothing
        for tenant in tenants:
            with colours.db.tenant(tenant.id) as session:
                stored = set(session.scalars(select(PluginActivation.plugin).where(PluginActivation.enabled.is_(True))))
            assert ping(colours, tenant) == stored, f"after {kind} {plugin} at {code}: tenant {tenant.code}"
    # the invariants the policies promise
    with colours.db.platform() as session:
        policies = list(session.scalars(select(PluginPolicy)))
    by_id = {t.id: t for t in tenants}
    for policy in policies:
        below = [t for t in tenants if policy.tenant_id in tenant_ref(t).path[:-1]]
        for tenant in below:
            enabled_there = ping(colours, tenant)
            if not policy.allowed:
                assert policy.plugin not in enabled_there, f"{policy.plugin} denied by {by_id[policy.tenant_id].code}"
    # reset for the next example (the tree is shared between examples)
    with colours.db.platform() as session, session.begin():
        session.execute(PluginPolicy.__table__.delete())
    for tenant in tenants:
        with colours.db.tenant(tenant.id) as session, session.begin():
            for row in session.scalars(select(PluginActivation)):
                session.delete(row)
    colours.plugins.dispatcher.activations.evict(None)


def test_a_plugin_that_keeps_failing_is_quarantined_for_that_tenant_only(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("flaky", FAILING_CODE)
    plugin_factory.make("red", RECORDING_CODE)
    kernel = make_kernel(plugin_error_budget=3)
    for plugin in ("flaky", "red"):
        for code in ("00001", "00002"):
            kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)
    dispatcher = kernel.plugins.dispatcher
    for _ in range(5):
        outcomes = dispatcher.call_robust(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:t", event=Event(1, "test.ping", tree.c1.id)
        )
        assert any(o.plugin == "red" and o.error is None for o in outcomes)  # the others keep working
    flaky = __import__("sys").modules["nentang_flaky.plugin"]
    assert flaky.CALLS.count("00001") == 3  # budget reached: not called again there
    assert dispatcher.enabled(tree.c1.id) == {"red"}
    assert dispatcher.enabled(tree.c2.id) == {"flaky", "red"}
    view = kernel.plugins.activation.view("flaky", "00001")
    assert view.quarantined and "cannot reach the provincial archive" in view.quarantined
    kernel.plugins.activation.disable(actor=OPERATOR, plugin="flaky", tenant_code="00001", checked=False)
    with pytest.raises(NentangError) as refused:  # not again until an administrator releases it
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="flaky", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.quarantined"
    assert kernel.plugins.budget.release("flaky", tree.c1.id, OPERATOR)
    assert dispatcher.enabled(tree.c1.id) == frozenset({"red"})  # released, but it was disabled meanwhile


def test_an_enable_on_one_worker_reaches_another(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("red", RECORDING_CODE)
    writer, reader = make_kernel(), make_kernel()
    assert reader.plugins.dispatcher.enabled(tree.c1.id) == frozenset()  # cached now
    writer.plugins.activation.enable(actor=OPERATOR, plugin="red", tenant_code="00001", checked=False)
    deadline = time.monotonic() + 10
    while reader.plugins.dispatcher.enabled(tree.c1.id) != {"red"} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reader.plugins.dispatcher.enabled(tree.c1.id) == {"red"}
    writer.plugins.activation.disable(actor=OPERATOR, plugin="red", tenant_code="00001", checked=False)
    deadline = time.monotonic() + 10
    while reader.plugins.dispatcher.enabled(tree.c1.id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reader.plugins.dispatcher.enabled(tree.c1.id) == frozenset()
