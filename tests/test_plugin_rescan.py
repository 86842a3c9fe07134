"""New plugin packages at runtime: a running kernel (and a running app) registers a plugin installed
after start-up when it rescans — no restart — while an upgrade of a registered plugin is only reported
(a rolling restart applies it, ``tests/test_rolling_restart.py``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import time

import importlib_metadata
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.discovery import discover
from nentang.sdk import __version__ as sdk_version
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory, calls

OPERATOR = Actor.command_line()


def wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def upgrade(factory: PluginFactory, name: str, old: str, new: str, code: str) -> None:
    """What ``pip install --upgrade`` leaves behind: the new files and metadata, the old metadata gone."""
    shutil.rmtree(factory.root / f"nentang_{name}-{old}.dist-info")
    factory.make(name, code, version=new)


def test_only_invalidated_import_caches_see_a_package_written_after_a_scan(plugin_factory: PluginFactory) -> None:
    root = plugin_factory.root
    plugin_factory.make("early", RECORDING_CODE)
    assert [c.name for c in discover(sdk_version, [str(root)])] == ["early"]

    # A package lands in the folder within the same directory timestamp (coarse file-system clocks,
    # or an installer that restores it): both path caches key their listing on that timestamp.
    before = os.stat(root)
    plugin_factory.make("late", RECORDING_CODE)
    os.utime(root, ns=(before.st_atime_ns, before.st_mtime_ns))

    stale = {d.metadata["Name"] for d in importlib_metadata.distributions(path=[str(root)])}
    assert stale == {"nentang-early"}  # importlib-metadata's cached directory listing
    assert importlib.util.find_spec("nentang_late") is None  # the import system's cached listing

    # discover() invalidates both caches: a rescan sees the package
    assert [c.name for c in discover(sdk_version, [str(root)])] == ["early", "late"]
    assert importlib.util.find_spec("nentang_late") is not None


def test_a_running_kernel_registers_a_plugin_installed_after_start_up(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("early", RECORDING_CODE)
    kernel = make_kernel()
    assert set(kernel.plugins.host.plugins) == {"early"}

    plugin_factory.make("late", RECORDING_CODE)
    report = kernel.plugins.scan()
    assert (report.registered, report.quarantined, report.unchanged) == (("late",), (), ("early",))
    assert kernel.plugins.versions() == {"early": "0.1.0", "late": "0.1.0"}

    kernel.plugins.activation.enable(actor=OPERATOR, plugin="late", tenant_code="00001", settings={}, checked=False)
    for tenant in (tree.c1, tree.c2):
        event = Event(id=1, type="test.ping", tenant_id=tenant.id)
        kernel.plugins.dispatcher.call_robust(
            "nentang_event_received", tenant_ref(tenant), actor="system:t", event=event
        )
    assert calls("late") == [("enable", "00001", {}), ("event", "00001", "test.ping")]
    assert calls("early") == []

    again = kernel.plugins.scan()
    assert (again.registered, again.quarantined, again.unchanged) == ((), (), ("early", "late"))


def test_a_running_app_serves_a_plugin_installed_after_start_up(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("early", RECORDING_CODE)
    kernel = make_kernel()
    with TestClient(create_app(kernel)) as http:
        assert http.get("/readyz").json()["plugins"] == {"early": "0.1.0"}
        assert http.get("/t/00001/").json()["plugins"] == []

        plugin_factory.make("late", RECORDING_CODE, version="1.2.0")
        plugin_factory.make("broken", "raise RuntimeError('boom at import')")
        report = kernel.plugins.scan()  # what `nentang plugin rescan` makes every worker do
        assert report.registered == ("late",) and report.quarantined == ("broken",)

        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["plugins"] == {"early": "0.1.0", "late": "1.2.0"}  # broken is not running
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="late", tenant_code="00001", checked=False)
        assert http.get("/t/00001/").json()["plugins"] == ["late"]
        assert http.get("/t/00002/").json()["plugins"] == []
        assert calls("late") == [("enable", "00001", {})]


def test_an_upgrade_on_disk_is_reported_and_not_swapped_in_process(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("alpha", RECORDING_CODE + "\nRELEASE = '0.1.0'\n")
    kernel = make_kernel()
    running = sys.modules["nentang_alpha.plugin"]

    upgrade(plugin_factory, "alpha", "0.1.0", "0.2.0", RECORDING_CODE + "\nRELEASE = '0.2.0'\n")
    assert [(c.name, c.version) for c in discover(sdk_version, [str(plugin_factory.root)])] == [("alpha", "0.2.0")]
    with capture_logs() as logs:
        report = kernel.plugins.scan()
    assert report.unchanged == ("alpha",) and report.registered == ()
    assert {
        "event": "plugin.upgrade_needs_restart",
        "plugin": "alpha",
        "running": "0.1.0",
        "installed": "0.2.0",
        "log_level": "warning",
    } in logs
    # the worker keeps the code it imported, whole and consistent, until it is replaced
    assert kernel.plugins.versions() == {"alpha": "0.1.0"}
    assert kernel.plugins.host.plugins["alpha"].module is running
    assert running.RELEASE == "0.1.0"
    kernel.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    assert kernel.plugins.activation.view("alpha", "00001").version == "0.1.0"


def test_a_rescan_requested_by_one_process_reaches_every_running_worker(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    worker = make_kernel()  # started: its change watcher listens (PostgreSQL) or polls (SQLite)
    admin = make_kernel()  # where the rescan is asked for: the CLI, or the worker serving the admin mutation
    plugin_factory.make("late", RECORDING_CODE)

    report = admin.plugins.rescan(OPERATOR)
    assert report.registered == ("late",)
    assert wait_for(lambda: "late" in worker.plugins.host.plugins), "the other worker did not rescan"
    worker.plugins.activation.enable(actor=OPERATOR, plugin="late", tenant_code="00001", checked=False)
    assert worker.plugins.dispatcher.enabled(tree.c1.id) == {"late"}
