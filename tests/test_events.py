"""Events: written with the change that caused them, delivered at least once, in order per
tenant, to the plugins enabled there — across failures, several workers and a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from nentang.kernel.events.models import EventDelivery, OutboxEvent, utcnow
from nentang.kernel.events.outbox import MAX_PAYLOAD_BYTES, emit
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.models import PluginQuarantine
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import ValidationFailed
from tests.conftest import ON_POSTGRES, Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

OPERATOR = Actor.command_line()
CHILD = Path(__file__).parent / "fixtures" / "event_relay_child.py"

#: Records what it receives (tenant, id, type, payload, thread) and notes two events of one
#: tenant being handled at the same time. ``DELAY`` seconds per event widen any race.
RECORDER = """
import threading
import time

from nentang.sdk import hookimpl

SEEN = []
OVERLAPS = []
_ACTIVE = set()
_LOCK = threading.Lock()


@hookimpl
def nentang_event_received(ctx, event):
    with _LOCK:
        if event.tenant_id in _ACTIVE:
            OVERLAPS.append(event.id)
        _ACTIVE.add(event.tenant_id)
    try:
        time.sleep(DELAY)
        SEEN.append((ctx.tenant.code, event.id, event.type, dict(event.payload), threading.current_thread().name))
    finally:
        with _LOCK:
            _ACTIVE.discard(event.tenant_id)
"""

#: Fails on every "test.boom"; handles everything else.
FLAKY = """
from nentang.sdk import hookimpl

TRIED = []


@hookimpl
def nentang_event_received(ctx, event):
    TRIED.append(event.id)
    if event.type == "test.boom":
        raise RuntimeError("cannot digest boom")
"""

#: Appends "<plugin> <event id> <type>" to a log file that survives the process; in the child
#: (``NENTANG_TEST_BLOCK`` set) it stops dead in the middle of event ``n == BLOCK_AT``.
LOGGING = """
import os
import time
from pathlib import Path

from nentang.sdk import hookimpl


@hookimpl
def nentang_event_received(ctx, event):
    with open(LOG, "a") as log:
        log.write(f"{ctx.plugin} {event.id} {event.type}\\n")
    if BLOCKS and os.environ.get("NENTANG_TEST_BLOCK") and event.payload.get("n") == BLOCK_AT:
        Path(MARKER).write_text(str(event.id))
        time.sleep(120)
"""


def recorder(delay: float = 0.0) -> str:
    return RECORDER.replace("DELAY", repr(delay))


def module(plugin: str) -> Any:
    return sys.modules[f"nentang_{plugin}.plugin"]


def seen(plugin: str, *, prefix: str = "test.") -> list[tuple[str, int, str, dict[str, Any], str]]:
    return [s for s in module(plugin).SEEN if s[2].startswith(prefix)]


def emit_at(kernel: Kernel, tenant: TenantInfo, event_type: str, payload: dict[str, Any] | None = None) -> int:
    with kernel.db.tenant(tenant.id) as session, session.begin():
        return emit(session, tenant_id=tenant.id, event_type=event_type, payload=payload, actor="user:1").id or 0


def enable(kernel: Kernel, plugin: str, *codes: str) -> None:
    for code in codes:
        kernel.plugins.activation.enable(actor=OPERATOR, plugin=plugin, tenant_code=code, checked=False)


def deliver_all(kernel: Kernel, *, rounds: int = 50) -> int:
    completed = 0
    for _ in range(rounds):
        done = kernel.events.deliver_batch(100)
        completed += done
        if done == 0:
            break
    return completed


def outbox(kernel: Kernel, **where: Any) -> list[OutboxEvent]:
    with kernel.db.platform() as session:
        query = select(OutboxEvent).filter_by(**where).order_by(OutboxEvent.id)
        return list(session.scalars(query))


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


# -- the outbox ---------------------------------------------------------------------------


def test_an_event_exists_only_if_its_transaction_commits(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(RuntimeError), kernel.db.tenant(tree.c1.id) as session, session.begin():
        emit(session, tenant_id=tree.c1.id, event_type="test.rolled_back", payload={"x": 1}, actor="user:1")
        raise RuntimeError("the change failed after the emit")
    assert outbox(kernel, type="test.rolled_back") == []
    event_id = emit_at(kernel, tree.c1, "test.kept", {"x": 1, "tên": "Phường Một"})
    [row] = outbox(kernel, type="test.kept")
    assert (row.id, row.tenant_id, row.actor, row.delivered, row.attempts) == (event_id, tree.c1.id, "user:1", False, 0)
    assert row.payload == '{"tên":"Phường Một","x":1}'  # canonical JSON, readable Vietnamese


def test_the_kernel_emits_an_event_for_each_new_tenant(kernel: Kernel, tree: Tree) -> None:
    created = {row.tenant_id: row for row in outbox(kernel, type="kernel.tenant.created")}
    assert set(created) == {t.id for t in (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)}
    row = created[tree.c1.id]
    assert '"code":"00001"' in row.payload and '"parent":"01"' in row.payload and row.actor == "system:tests"


def test_a_failed_enable_leaves_no_event(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> None:
    plugin_factory.make(
        "grumpy",
        """
from nentang.sdk import ValidationFailed, hookimpl

@hookimpl
def nentang_plugin_enable(ctx, settings):
    ctx.emit("grumpy.started", {})
    raise ValidationFailed("not today")
""",
    )
    kernel = make_kernel()
    with pytest.raises(ValidationFailed):
        enable(kernel, "grumpy", "00001")
    assert outbox(kernel, type="grumpy.started") == []
    assert outbox(kernel, type="kernel.plugin.enabled") == []


BAD_EVENTS = [
    ("Forms.Submitted", {}, "event.bad_type"),
    ("nodots", {}, "event.bad_type"),
    ("forms.", {}, "event.bad_type"),
    ("", {}, "event.bad_type"),
    ("forms.submitted\n", {}, "event.bad_type"),
    ("forms.submitted", {"when": object()}, "event.payload"),
    ("forms.submitted", {"ratio": float("nan")}, "event.payload"),
    ("forms.submitted", [1, 2, 3], "event.payload"),
    ("forms.submitted", "text", "event.payload"),
    ("forms.submitted", {"blob": "x" * MAX_PAYLOAD_BYTES}, "event.payload_too_large"),
]


def test_bad_input_is_refused_with_a_clear_code_and_nothing_is_written(
    kernel: Kernel, tree: Tree, subtests: pytest.Subtests
) -> None:
    before = outbox(kernel)
    for event_type, payload, code in BAD_EVENTS:
        with subtests.test(event_type=event_type, code=code):
            with kernel.db.tenant(tree.c1.id) as session, session.begin():
                with pytest.raises(ValidationFailed) as refused:
                    emit(session, tenant_id=tree.c1.id, event_type=event_type, payload=payload, actor="user:1")
                assert len(session.new) == 0
            assert refused.value.code == code
            assert outbox(kernel) == before
    with pytest.raises(ValidationFailed) as refused:
        kernel.events.deliver_batch(0)
    assert refused.value.code == "events.limit"


# -- delivery -----------------------------------------------------------------------------


def test_each_enabled_plugin_of_the_tenant_gets_each_event_once(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    for name in ("alpha", "beta", "gamma"):
        plugin_factory.make(name, recorder())
    kernel = make_kernel()
    enable(kernel, "alpha", "00001", "00002")
    enable(kernel, "beta", "00001")
    enable(kernel, "gamma", "00001")
    kernel.plugins.activation.disable(actor=OPERATOR, plugin="gamma", tenant_code="00001", checked=False)
    e1 = emit_at(kernel, tree.c1, "test.one", {"n": 1})
    e2 = emit_at(kernel, tree.c2, "test.two", {"n": 2})
    emit_at(kernel, tree.c3, "test.three", {"n": 3})  # nobody is enabled there
    total = len(outbox(kernel, delivered=False))
    assert deliver_all(kernel) == total
    assert [(s[0], s[1]) for s in seen("alpha")] == [("00001", e1), ("00002", e2)]
    assert [(s[0], s[1], s[3]) for s in seen("beta")] == [("00001", e1, {"n": 1})]
    assert seen("gamma") == []
    assert outbox(kernel, delivered=False) == [] and kernel.events.pending() == 0
    assert deliver_all(kernel) == 0  # nothing is delivered twice
    assert len(seen("alpha")) == 2
    # the kernel's own events reached the plugins enabled at delivery time
    kernel_events = [(s[0], s[2], s[3]["plugin"]) for s in seen("alpha", prefix="kernel.plugin.")]
    assert ("00001", "kernel.plugin.enabled", "beta") in kernel_events
    assert ("00001", "kernel.plugin.disabled", "gamma") in kernel_events
    assert module("gamma").SEEN == []  # disabled before delivery: not even its own "enabled" event
    with kernel.db.platform() as session:
        assert session.scalar(select(func.count()).select_from(EventDelivery)) == 0  # cleared on completion
    [row] = outbox(kernel, id=e1)
    assert row.delivered and row.attempts == 1 and row.delivered_at is not None and row.last_error is None


def test_events_arrive_in_order_per_tenant(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("alpha", recorder())
    plugin_factory.make("beta", recorder())
    kernel = make_kernel()
    tenants = (tree.c1, tree.c2, tree.c3)
    for tenant in tenants:
        enable(kernel, "alpha", tenant.code)
        enable(kernel, "beta", tenant.code)
    for n in range(20):
        for tenant in tenants:
            emit_at(kernel, tenant, "test.step", {"n": n})
    deliver_all(kernel)
    for plugin in ("alpha", "beta"):
        for tenant in tenants:
            steps = [s[3]["n"] for s in seen(plugin) if s[0] == tenant.code]
            assert steps == list(range(20)), (plugin, tenant.code)


def test_a_failing_plugin_does_not_stop_the_others_is_retried_then_quarantined(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("flaky", FLAKY)
    plugin_factory.make("steady", recorder())
    kernel = make_kernel(events_retry_delay=0.0, plugin_error_budget=3)
    enable(kernel, "flaky", "00001", "00002")
    enable(kernel, "steady", "00001")
    deliver_all(kernel)
    boom = emit_at(kernel, tree.c1, "test.boom")
    after = emit_at(kernel, tree.c1, "test.after")
    elsewhere = emit_at(kernel, tree.c2, "test.elsewhere")

    assert kernel.events.deliver_batch(1) == 0  # flaky raised; steady (after it by name) still got it
    [row] = outbox(kernel, id=boom)
    assert (
        not row.delivered and row.attempts == 1 and "flaky: RuntimeError: cannot digest boom" in (row.last_error or "")
    )
    assert [s[1] for s in seen("steady")] == [boom]
    assert kernel.events.deliver_batch(1) == 0  # the retry goes to flaky only
    assert [s[1] for s in seen("steady")] == [boom]
    assert module("flaky").TRIED.count(after) == 0  # the tenant's next event waits for the head

    # the third failure spends the budget: quarantined at 00001, the event no longer waits for it
    assert kernel.events.deliver_batch(1) == 1
    assert module("flaky").TRIED.count(boom) == 3
    [row] = outbox(kernel, id=boom)
    assert row.delivered and row.attempts == 3
    with kernel.db.platform() as session:
        assert session.get(PluginQuarantine, (tree.c1.id, "flaky")) is not None
        assert session.get(PluginQuarantine, (tree.c2.id, "flaky")) is None
    deliver_all(kernel)
    assert [s[1] for s in seen("steady")] == [boom, after]
    assert module("flaky").TRIED.count(after) == 0  # quarantined at 00001 ...
    assert module("flaky").TRIED.count(elsewhere) == 1  # ... but not at 00002


def test_a_failed_round_waits_for_its_back_off(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("flaky", FLAKY)
    kernel = make_kernel(events_retry_delay=60.0)
    enable(kernel, "flaky", "00001")
    deliver_all(kernel)
    boom = emit_at(kernel, tree.c1, "test.boom")
    later = emit_at(kernel, tree.c1, "test.later")
    other = emit_at(kernel, tree.c2, "test.other")  # another tenant does not wait
    assert kernel.events.deliver_batch(10) == 1  # the other tenant's event; boom failed once
    [row] = outbox(kernel, id=boom)
    assert row.attempts == 1 and row.retry_at is not None
    assert deliver_all(kernel) == 0  # not before the back-off ...
    tried = [event_id for event_id in module("flaky").TRIED if event_id >= boom]
    assert tried == [boom]
    assert later not in tried and other not in tried  # (00002: not enabled)
    with kernel.db.platform() as session, session.begin():
        session.execute(update(OutboxEvent).where(OutboxEvent.id == boom).values(retry_at=utcnow()))
    kernel.plugins.activation.disable(actor=OPERATOR, plugin="flaky", tenant_code="00001", checked=False)
    assert deliver_all(kernel) >= 2  # ... and a disabled plugin is not waited for
    assert [row.delivered for row in outbox(kernel, id=boom) + outbox(kernel, id=later)] == [True, True]


def test_the_background_runner_delivers_on_its_own(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("alpha", recorder())
    setup = make_kernel()
    enable(setup, "alpha", "00001")
    deliver_all(setup)  # (on SQLite, a transaction that reads before it writes fails if a writer overtakes it)
    kernel = make_kernel(events_background=True)
    assert kernel.event_runner.running
    event_id = emit_at(kernel, tree.c1, "test.ping")
    wait_for(lambda: [s[1] for s in seen("alpha")] == [event_id], timeout=10)
    kernel.close()
    assert not kernel.event_runner.running


# -- several workers, and a crash -----------------------------------------------------------


def test_two_workers_share_the_work_without_duplicates_or_reordering(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("alpha", recorder(delay=0.002))
    first, second = make_kernel(), make_kernel()
    tenants = (tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)
    for tenant in tenants:
        enable(first, "alpha", tenant.code)
    for n in range(8):
        for tenant in tenants:
            emit_at(first, tenant, "test.step", {"n": n})
    failures: list[BaseException] = []

    def work(kernel: Kernel) -> None:
        try:
            deadline = time.monotonic() + 20
            while kernel.events.pending() and time.monotonic() < deadline:
                if kernel.events.deliver_batch(5) == 0:
                    time.sleep(0.005)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,), name=f"worker-{i}") for i, k in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert first.events.pending() == 0
    records = seen("alpha")
    for tenant in tenants:
        assert [s[3]["n"] for s in records if s[0] == tenant.code] == list(range(8)), tenant.code
    assert module("alpha").OVERLAPS == []  # never two events of one tenant at once
    if ON_POSTGRES:  # SKIP LOCKED lets both deliver; on SQLite one process relays at a time
        assert {s[4] for s in records} == {"worker-0", "worker-1"}


def test_a_worker_killed_mid_delivery_loses_nothing(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree, tmp_path: Path, database_url: str
) -> None:
    log, marker = tmp_path / "deliveries.log", tmp_path / "blocked-at"
    for name, blocks in (("first", False), ("second", True)):
        code = LOGGING.replace("LOG", repr(str(log))).replace("MARKER", repr(str(marker)))
        plugin_factory.make(name, code.replace("BLOCKS", repr(blocks)).replace("BLOCK_AT", "4"))
    kernel = make_kernel(events_retry_delay=0.0)
    enable(kernel, "first", "00001", "00002")
    enable(kernel, "second", "00001")
    deliver_all(kernel)
    log.write_text("")
    steps = [emit_at(kernel, tree.c1, "test.step", {"n": n}) for n in range(8)]
    others = [emit_at(kernel, tree.c2, "test.other", {"n": n}) for n in range(3)]

    output = (tmp_path / "child.out").open("w")
    env = {**os.environ, "NENTANG_TEST_BLOCK": "1"}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), database_url, str(plugin_factory.root)],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: marker.exists() or child.poll() is not None, timeout=30)
        assert marker.exists(), (tmp_path / "child.out").read_text()[-3000:]
        assert int(marker.read_text()) == steps[4]
        # while the child holds 00001's head, this worker must not overtake it
        kernel.events.deliver_batch(20)
        assert f"first {steps[5]} " not in log.read_text()
        os.kill(child.pid, signal.SIGKILL)  # kill -9 in the middle of "second" handling step 4
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        output.close()
    [row] = outbox(kernel, id=steps[4])
    assert not row.delivered  # nothing was marked delivered before the hooks ran

    wait_for(lambda: deliver_all(kernel) >= 0 and kernel.events.pending() == 0, timeout=20)
    lines = [line.split() for line in log.read_text().splitlines()]
    for plugin, tenant_events in (("first", steps), ("second", steps), ("first", others)):
        got = [int(event) for name, event, _type in lines if name == plugin and int(event) in tenant_events]
        deduplicated = [e for i, e in enumerate(got) if i == 0 or got[i - 1] != e]
        assert deduplicated == tenant_events, (plugin, got)  # every event, in order, none lost
    # "first" had handled step 4 (its record committed with its work): not again; "second" got it again
    assert [int(e) for name, e, _ in lines if name == "first"].count(steps[4]) == 1
    assert [int(e) for name, e, _ in lines if name == "second"].count(steps[4]) == 2
    assert all(row.delivered for row in outbox(kernel, type="test.step"))


def test_the_retry_time_is_in_the_future_after_a_failure(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("flaky", FLAKY)
    kernel = make_kernel(events_retry_delay=2.0)
    enable(kernel, "flaky", "00001")
    deliver_all(kernel)
    boom = emit_at(kernel, tree.c1, "test.boom")
    for attempt, expected in ((1, 2.0), (2, 4.0), (3, 8.0)):
        before = utcnow()
        kernel.events.deliver_batch(1)
        [row] = outbox(kernel, id=boom)
        assert row.attempts == attempt
        retry_at = row.retry_at if row.retry_at.tzinfo else row.retry_at.replace(tzinfo=before.tzinfo)
        assert timedelta(seconds=expected - 0.5) < retry_at - before < timedelta(seconds=expected + 5)
        with kernel.db.platform() as session, session.begin():
            session.execute(update(OutboxEvent).where(OutboxEvent.id == boom).values(retry_at=utcnow()))
