"""The watchdog on hooks (issue 12, item 4): a hook that loops is stopped at its deadline with
``PluginTimeout``, the loop really is interrupted (its ``finally`` runs, its thread is free), the
plugin's error budget is charged, and repeated timeouts quarantine it at that tenant only."""

from __future__ import annotations

import sys
import time

import pytest

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.running import PluginCall, current_call
from nentang.kernel.plugins.watchdog import PluginTimeout, Watchdog
from nentang.kernel.runtime import Kernel
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory

OPERATOR = Actor.command_line()
DEADLINE = 0.3

#: A hook that never returns on its own; it catches ``Exception`` (as careless code does) and
#: records that its ``finally`` ran, which only an interruption of the loop can cause.
LOOPING_CODE = """
from nentang.sdk import hookimpl

CALLS = []
LEFT = []

@hookimpl
def nentang_event_received(ctx, event):
    CALLS.append(ctx.tenant.code)
    spins = 0
    try:
        while True:
            try:
                spins += 1
            except Exception:
                pass
    finally:
        LEFT.append(spins)
"""


def module(plugin: str) -> object:
    return sys.modules[f"nentang_{plugin}.plugin"]


@pytest.fixture
def looping(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("looping", LOOPING_CODE)
    plugin_factory.make("red", RECORDING_CODE)
    kernel = make_kernel(plugin_error_budget=2, plugin_calls=PluginCallLimits(deadline=DEADLINE))
    for plugin in ("looping", "red"):
        for code in ("00001", "00002"):
            kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)
    return kernel


def ping(kernel: Kernel, tenant: object, number: int) -> list[object]:
    ref = tenant_ref(tenant)  # type: ignore[arg-type]
    return kernel.plugins.dispatcher.call_robust(
        "nentang_event_received", ref, actor="system:t", event=Event(number, "test.ping", ref.id)
    )


def test_a_looping_hook_is_stopped_at_its_deadline_and_the_others_still_run(looping: Kernel, tree: Tree) -> None:
    began = time.monotonic()
    outcomes = {o.plugin: o for o in ping(looping, tree.c1, 1)}  # type: ignore[attr-defined]
    took = time.monotonic() - began
    timeout = outcomes["looping"].error
    assert isinstance(timeout, PluginTimeout) and timeout.code == "plugin.timeout"
    assert "plugin 'looping'" in timeout.message and "nentang_event_received" in timeout.message
    assert outcomes["red"].error is None  # the next plugin ran after it
    assert DEADLINE <= took < DEADLINE + 1.0
    assert len(module("looping").LEFT) == 1 and module("looping").LEFT[0] > 0  # type: ignore[attr-defined]
    assert looping.plugins.watchdog.running() == [] and current_call() is None
    time.sleep(0.6)  # no stop left pending for this thread: plain Python keeps running
    assert sum(range(100_000)) == 4_999_950_000


def test_repeated_timeouts_quarantine_the_plugin_at_that_tenant_only(looping: Kernel, tree: Tree) -> None:
    dispatcher = looping.plugins.dispatcher
    for number in (1, 2):  # the budget is 2
        ping(looping, tree.c1, number)
    assert dispatcher.enabled(tree.c1.id) == {"red"}
    assert dispatcher.enabled(tree.c2.id) == {"looping", "red"}
    view = looping.plugins.activation.view("looping", "00001")
    assert view.quarantined and "PluginTimeout" in view.quarantined
    ping(looping, tree.c1, 3)
    assert module("looping").CALLS == ["00001", "00001"]  # type: ignore[attr-defined]


def test_a_strict_hook_call_raises_plugin_timeout_to_its_caller(looping: Kernel, tree: Tree) -> None:
    with looping.db.tenant(tree.c1.id) as session, pytest.raises(PluginTimeout) as stopped:
        looping.plugins.dispatcher.call_all(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:t", session=session, event=Event(1, "x", 1)
        )
    assert stopped.value.plugin == "looping" and stopped.value.tenant_id == tree.c1.id
    assert looping.plugins.watchdog.running() == [] and current_call() is None


def test_a_plugin_gets_its_own_deadline_and_others_the_default() -> None:
    watchdog = Watchdog(PluginCallLimits(deadline=0.2, deadlines={"patient": 1.0}))

    def busy(seconds: float) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        return "done"

    try:
        assert watchdog.call(PluginCall("patient", 1, "hook"), busy, 0.5) == "done"
        with pytest.raises(PluginTimeout, match=r"deadline of 0\.2 s"):
            watchdog.call(PluginCall("hasty", 1, "hook"), busy, 0.5)
    finally:
        watchdog.close()


def test_a_plugin_that_swallows_the_stop_is_sent_another() -> None:
    watchdog = Watchdog(PluginCallLimits(deadline=0.1))
    caught: list[str] = []

    def stubborn() -> None:
        while True:
            try:
                while True:
                    pass
            except BaseException as exc:  # what a hostile plugin would write
                caught.append(type(exc).__name__)
                if len(caught) == 3:
                    raise

    try:
        with pytest.raises(PluginTimeout):
            watchdog.call(PluginCall("stubborn", 1, "hook"), stubborn)
        assert caught == ["Stopped"] * 3
    finally:
        watchdog.close()
