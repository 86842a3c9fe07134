"""bench/hook_dispatch.py and bench/activation_propagation.py: their building blocks, on tiny sizes.

No assertion here is about speed: the benchmarks print figures; these tests check that they run, measure
what they say (the same hook functions, the right worker, the right state) and print the agreed lines.
Also here: the two kernel changes the benchmarks brought — the dispatcher's cached plans and direct
context construction, and the diagnostic ``X-NenTang-Worker`` header.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import structlog
import uvicorn
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.http.middleware.worker_id import WORKER_HEADER
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import KernelTenantContext, services_for, tenant_ref
from nentang.kernel.plugins.dispatch import new_context
from nentang.kernel.runtime import Kernel
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

BENCH = Path(__file__).resolve().parent.parent / "bench"
NUMBER = r"(?:\d+\.\d+|inf|nan)"
HOOKS_LINE = re.compile(
    rf"^hooks: installed=(\d+) enabled=(\d+) tenant_call_us=({NUMBER}) pluggy_call_us=({NUMBER}) ratio=({NUMBER})$"
)
ACTIVATION_LINE = re.compile(rf"^activation: workers=(\d+) p50_ms=({NUMBER}) p99_ms=({NUMBER}) failed=(\d+)$")
OPERATOR = Actor.command_line()


def load_script(name: str) -> Iterator[ModuleType]:
    module_name = f"nentang_bench_{name}"
    spec = importlib.util.spec_from_file_location(module_name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(module_name, None)


@pytest.fixture(scope="module")
def hooks() -> Iterator[ModuleType]:
    yield from load_script("hook_dispatch")


@pytest.fixture(scope="module")
def activation() -> Iterator[ModuleType]:
    yield from load_script("activation_propagation")


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


# -- hook_dispatch -----------------------------------------------------------------------------------


def test_enabled_plugins_are_spread_over_the_installed_ones(hooks: ModuleType) -> None:
    assert hooks.enabled_names(["a"]) == ["a"]
    names = hooks.plugin_names(50)
    chosen = hooks.enabled_names(names)
    assert chosen == ["hd50_00", "hd50_10", "hd50_20", "hd50_30", "hd50_40"]
    assert len(set(hooks.enabled_names(hooks.plugin_names(7)))) == 5


def test_hooks_last_line_format(hooks: ModuleType) -> None:
    line = hooks.format_last_line(50, 5, 3.0123, 2.5)
    assert line == "hooks: installed=50 enabled=5 tenant_call_us=3.012 pluggy_call_us=2.500 ratio=1.20"
    assert HOOKS_LINE.match(line)
    assert HOOKS_LINE.match(hooks.format_last_line(1, 1, 1.0, 0.0))  # ratio=inf


def test_hook_dispatch_runs_end_to_end_on_tiny_sizes(hooks: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert hooks.main(["--sizes", "1,10", "--batch", "20", "--batches", "3", "--clock", "wall", "--profile"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = HOOKS_LINE.match(lines[-1])
    assert match, lines[-1]
    assert match.group(1) == "10" and match.group(2) == "5"
    assert float(match.group(3)) > 0 and float(match.group(4)) > 0
    assert any("installed=1 enabled=1: ours" in line for line in lines)
    assert any("only the 5 enabled registered" in line for line in lines)
    assert any("profile of ours" in line for line in lines)
    assert not [m for m in sys.modules if m.startswith("nentang_hd")]  # the throwaway plugins are forgotten


# -- the dispatcher's fast path ----------------------------------------------------------------------

SETTINGS_CODE = """
from nentang.sdk import hookimpl

SEEN = []


@hookimpl
def nentang_event_received(ctx, event):
    SEEN.append((ctx.plugin, ctx.tenant.code, ctx.actor, dict(ctx.settings), event.type))
"""
SCHEMA = {"type": "object", "properties": {"greeting": {"type": "string"}}, "additionalProperties": False}


def test_new_context_builds_what_the_constructor_builds(kernel: Kernel, tree: Tree) -> None:
    ref = tenant_ref(tree.c1)
    args = {"tenant": ref, "plugin": "p", "actor": "user:1", "settings": {"a": 1}, "session": None}
    expected = KernelTenantContext(**args, authz=kernel.authz, audit=kernel.audit)  # type: ignore[arg-type]
    built = new_context(ref, "p", "user:1", {"a": 1}, None, services_for(kernel.authz, kernel.audit).handle)
    assert type(built) is KernelTenantContext
    for slot in KernelTenantContext.__slots__:
        assert getattr(built, slot) == getattr(expected, slot), slot


def test_cached_plans_follow_enable_settings_and_disable(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("gamma", SETTINGS_CODE, settings_schema=SCHEMA)
    plugin_factory.make("delta", SETTINGS_CODE.replace("SEEN = []", "from nentang_gamma.plugin import SEEN"))
    kernel = make_kernel()
    seen = sys.modules["nentang_gamma.plugin"].SEEN
    dispatcher, service = kernel.plugins.dispatcher, kernel.plugins.activation
    ref = tenant_ref(tree.c1)

    def call() -> list[tuple]:  # type: ignore[type-arg]
        seen.clear()
        assert dispatcher.call_all("nentang_event_received", ref, actor="system:t", session=None, event=event) == []
        return list(seen)

    event = Event(id=1, type="test.ping", tenant_id=tree.c1.id)
    assert call() == []
    service.enable(actor=OPERATOR, plugin="gamma", tenant_code="00001", settings={"greeting": "a"}, checked=False)
    assert call() == [("gamma", "00001", "system:t", {"greeting": "a"}, "test.ping")]
    assert call() == [("gamma", "00001", "system:t", {"greeting": "a"}, "test.ping")]  # warm: the cached plan
    service.update_settings(
        actor=OPERATOR, plugin="gamma", tenant_code="00001", settings={"greeting": "b"}, checked=False
    )
    assert call() == [("gamma", "00001", "system:t", {"greeting": "b"}, "test.ping")]
    service.enable(actor=OPERATOR, plugin="delta", tenant_code="00001", checked=False)
    assert [c[0] for c in call()] == ["delta", "gamma"]  # no dependencies between them: by name
    service.disable(actor=OPERATOR, plugin="gamma", tenant_code="00001", checked=False)
    assert [c[0] for c in call()] == ["delta"]
    seen.clear()
    dispatcher.call_all("nentang_event_received", tenant_ref(tree.c2), actor="system:t", session=None, event=event)
    assert seen == []  # never for a tenant where nothing is enabled


# -- the diagnostic worker header --------------------------------------------------------------------


def test_every_response_names_the_worker_process(kernel: Kernel, tree: Tree) -> None:
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        for path in ("/healthz", "/t/00001/", "/t/no-such-tenant/"):
            assert http.get(path).headers[WORKER_HEADER] == str(os.getpid()), path


# -- activation_propagation: pure helpers ------------------------------------------------------------


def test_activation_last_line_format(activation: ModuleType) -> None:
    line = activation.format_last_line(4, 12.345, 801.25, 0)
    assert line == "activation: workers=4 p50_ms=12.3 p99_ms=801.2 failed=0"
    assert ACTIVATION_LINE.match(line)
    assert ACTIVATION_LINE.match(activation.format_last_line(4, math.inf, math.inf, 3))


def test_percentile_and_missing_samples(activation: ModuleType) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert activation.percentile(values, 99) == 99.0
    assert activation.percentile(values, 50) == 50.0
    with pytest.raises(ValueError):
        activation.percentile([], 50)
    dist = activation.Dist.of([10.0, None, 30.0])
    assert dist.n == 3 and dist.missing == 1 and dist.p50 == 30.0 and dist.p99 == math.inf
    assert math.isnan(activation.Dist.of([]).p99)


def test_samples_find_the_first_response_showing_the_change(activation: ModuleType) -> None:
    r, change = activation.Response, activation.Change
    changes = [change(True, 10.0), change(False, 20.0)]
    responses = [
        r(9.0, 9.5, worker=1, status=200, enabled=False),  # before the commit
        r(9.8, 10.1, worker=1, status=200, enabled=False),  # answered after it, still old: not yet
        r(10.05, 10.2, worker=2, status=200, enabled=True),  # sent after: floor and propagation 200 ms
        r(10.1, 10.3, worker=1, status=200, enabled=True),  # worker 1 shows it at 300 ms
        r(10.4, 10.5, worker=1, status=200, enabled=False),  # a relapse
        r(10.6, 10.7, worker=1, status=500, enabled=None),  # failed: ignored by the samples
        r(20.1, 20.2, worker=1, status=200, enabled=False),  # the disable, on worker 1 only
    ]
    found = {(s.change, s.worker): s for s in activation.samples(changes, responses, [1, 2])}
    assert found[(0, 1)].propagation_ms == pytest.approx(300.0)
    assert found[(0, 1)].floor_ms == pytest.approx(300.0)
    assert found[(0, 1)].relapses == 1
    assert found[(0, 2)].propagation_ms == pytest.approx(200.0) and found[(0, 2)].relapses == 0
    assert found[(1, 1)].propagation_ms == pytest.approx(200.0)
    assert found[(1, 2)].propagation_ms is None and found[(1, 2)].floor_ms is None  # missing
    assert not responses[5].ok and responses[0].ok


def test_server_environment_is_ours_only(activation: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NENTANG_APP_DATABASE_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("PYTHONPATH", "/already/there")
    env = activation.server_env("sqlite:///x.db", Path("/tmp/site"), Path("/tmp/registry.toml"))
    assert env["NENTANG_DATABASE_URL"] == "sqlite:///x.db" and env["NENTANG_MODE"] == "development"
    assert "NENTANG_APP_DATABASE_URL" not in env
    assert env["PYTHONPATH"].split(os.pathsep) == ["/tmp/site", "/already/there"]


def test_arguments_are_checked(activation: ModuleType) -> None:
    args = activation.parse_args([])
    # one worker per core by default: more would measure the server's own queueing
    assert (args.workers, args.rate, args.rounds, args.sqlite) == (os.cpu_count() or 1, 200.0, 20, False)
    assert args.probe == "graphql"
    for bad in (["--workers", "0"], ["--rate", "0"], ["--rounds", "0"], ["--settle-s", "0"]):
        with pytest.raises(SystemExit):
            activation.parse_args(bad)


def test_stop_ends_the_process_group(activation: ModuleType, tmp_path: Path) -> None:
    """The server is stopped by its own id and process group: nothing it started is left."""
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    child += "time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", child], start_new_session=True)
    time.sleep(0.5)  # let it start its own child, as uvicorn starts workers
    server = activation.Server(process, tmp_path / "none.log", 0)
    activation.stop(server, 1.0)
    assert process.poll() is not None
    assert server.killed  # its child outlived it: the group was killed
    with pytest.raises(ProcessLookupError):  # no process of the group is left
        os.killpg(process.pid, 0)


# -- activation_propagation: the load and the changes, against one in-process server -----------------


@pytest.fixture
def propagation_kernel(activation: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    site, registry = tmp_path / "site", tmp_path / "registry.toml"
    activation.install_plugin(site, registry)
    monkeypatch.syspath_prepend(str(site))
    kernel = activation.prepare(f"sqlite:///{tmp_path / 'bench.db'}", site, registry)
    try:
        yield kernel
    finally:
        kernel.close()
        for module in [m for m in sys.modules if m.startswith(f"nentang_{activation.PLUGIN}")]:
            del sys.modules[module]


@pytest.mark.parametrize("probe", ["graphql", "route"])
def test_load_and_changes_measure_one_server(activation: ModuleType, propagation_kernel: Kernel, probe: str) -> None:
    port = activation.free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(propagation_kernel), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    clock = activation.CommitClock()
    propagation_kernel.db.on_commit(clock)
    path = "/graphql" if probe == "graphql" else f"/t/{activation.TENANT_CODE}/"
    load = activation.Load(
        f"http://127.0.0.1:{port}",
        path,
        graphql=probe == "graphql",
        token=activation.ping_token(propagation_kernel) if probe == "graphql" else "",
        workers=1,
        rate=50,
        per_worker=2,
        timeout_s=5,
    )
    figures = activation.Figures(workers=1, dialect="sqlite", rate=50)
    try:
        load.start(timeout_s=30)
        assert load.workers_seen == [os.getpid()]  # one in-process server: this process answers
        for enabled in (True, False):
            change = activation.toggle(propagation_kernel, clock, enabled)
            figures.changes.append(change)
            assert activation.wait_until_served(load, change, load.workers_seen, 5.0)
    finally:
        load.stop()
        server.should_exit = True
        thread.join(timeout=10)
    figures.responses, figures.connected = list(load.responses), dict(load.connected)
    figures.load_s = 1.0
    found = activation.samples(figures.changes, figures.responses, load.workers_seen)
    assert len(found) == 2 and all(s.propagation_ms is not None and s.relapses == 0 for s in found)
    assert not figures.failed
    lines = activation.summary_lines(figures)
    match = ACTIVATION_LINE.match(lines[-1])
    assert match and match.group(1) == "1" and match.group(4) == "0", lines[-1]
    assert any(line.startswith("floor (no propagation needed") for line in lines)
