"""``nentang plugin``: allow, lock, release and rescan — the operator's policy and recovery commands,
driven in process with typer's CliRunner against the test database."""

from __future__ import annotations

import re
import time

from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.runtime import Kernel
from tests.cli_fixtures import Cli, details, failed, ok, rows
from tests.conftest import Tree
from tests.identity_fixtures import audit_entries
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory, calls

# -- allow, lock, release -----------------------------------------------------------------------


def test_allow_and_deny_below_a_province(cli: Cli, alpha: str, tree: Tree) -> None:
    out = ok(cli("allow", "alpha", "--tenant", "01", "--deny"))
    assert out == "01 does not allow alpha in the tenants below it (they cannot enable it)\n"
    message = failed(cli("enable", "alpha", "--tenant", "00001"), "plugin.not_allowed")
    assert "'01' does not allow plugin 'alpha'" in message
    ok(cli("enable", "alpha", "--tenant", "00003"))  # another province's commune is not concerned
    ok(cli("enable", "alpha", "--tenant", "01"))  # nor the province itself
    assert ok(cli("allow", "alpha", "--tenant", "01")) == "01 allows alpha in the tenants below it\n"
    ok(cli("enable", "alpha", "--tenant", "00001"))


def test_lock_and_unlock_below_a_province(cli: Cli, alpha: str, tree: Tree) -> None:
    out = ok(cli("lock", "alpha", "--tenant", "01"))
    assert out.startswith("alpha is locked on below 01")
    assert sorted(c[1] for c in calls("alpha")) == ["00001", "00002"]
    message = failed(cli("disable", "alpha", "--tenant", "00001"), "plugin.locked")
    assert "locked on at '00001' by '01'" in message
    assert rows(ok(cli("list", "--tenant", "00002")))["alpha"][4:] == ["enabled,", "locked", "on", "by", "01"]
    out = ok(cli("lock", "alpha", "--tenant", "01", "--unlock"))
    assert out.startswith("alpha is no longer locked on below 01")
    ok(cli("disable", "alpha", "--tenant", "00001"))
    assert rows(ok(cli("list", "--tenant", "00002")))["alpha"][4:] == ["enabled"]


def test_release_lifts_a_tenant_quarantine(cli: Cli, alpha: str, make_kernel: KernelFactory, tree: Tree) -> None:
    ok(cli("enable", "alpha", "--tenant", "00001"))
    kernel = make_kernel()
    for _ in range(kernel.plugins.budget.budget):
        kernel.plugins.budget.failed("alpha", tenant_ref(tree.c1), RuntimeError("down"))
    message = failed(cli("enable", "alpha", "--tenant", "00001"), "plugin.already_enabled")
    assert "already enabled" in message
    assert "quarantined at 00001" in " ".join(details(ok(cli("list", "--tenant", "00001")), "alpha"))

    assert (
        ok(cli("release", "alpha", "--tenant", "00001"))
        == "released alpha at 00001: its hooks are called there again\n"
    )
    assert details(ok(cli("list", "--tenant", "00001")), "alpha") == ["settings: {}"]
    message = failed(cli("release", "alpha", "--tenant", "00001"), "plugin.not_quarantined")
    assert message == "plugin 'alpha' is not quarantined at '00001'"


# -- rescan -------------------------------------------------------------------------------------


def test_rescan_reports_and_reaches_a_running_worker(
    cli: Cli, plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("early", RECORDING_CODE)
    worker = make_kernel()  # started: scanned, and its change watcher is listening
    assert set(worker.plugins.host.plugins) == {"early"}

    plugin_factory.make("late", RECORDING_CODE)
    plugin_factory.make("broken", "raise RuntimeError('boom at import')")
    out = ok(cli("rescan"))
    lines = out.splitlines()
    assert "registered   late 0.1.0" in lines
    assert "registered   early 0.1.0" in lines  # this command's own process had not scanned before
    assert "quarantined  broken 0.1.0: importing nentang_broken.plugin raised RuntimeError: boom at import" in lines
    assert re.fullmatch(
        r"rescan: \d+ registered, \d+ quarantined, 0 unchanged; every running worker was asked .*", lines[-1]
    )

    deadline = time.monotonic() + 10
    while "late" not in worker.plugins.host.plugins and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(worker.plugins.host.plugins) == {"early", "late"}
    assert "boom at import" in worker.plugins.host.quarantined["broken"].reason
    worker.plugins.activation.enable(actor=Actor.command_line(), plugin="late", tenant_code="00001", checked=False)
    assert worker.plugins.dispatcher.enabled(tree.c1.id) == {"late"}


def test_rescan_is_audited_on_the_central_tenant_as_the_admin_mutation_is(
    cli: Cli, plugin_factory: PluginFactory, kernel: Kernel, tree: Tree
) -> None:
    plugin_factory.make("late", RECORDING_CODE)
    plugin_factory.make("broken", "raise RuntimeError('boom at import')")
    printed = [line.split()[:2] for line in ok(cli("rescan")).splitlines()]
    registered = [name for status, name in printed if status == "registered"]  # the example plugins too
    assert "late" in registered
    found = {
        t.code: [e[1:] for e in audit_entries(kernel, t.id) if e[0] == "plugin.rescan"]
        for t in (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)
    }
    assert found == {
        "TW": [(str(Actor.command_line()), "plugins", {"registered": registered, "quarantined": ["broken"]})],
        **{t.code: [] for t in (tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)},
    }
    assert all(r.ok for r in verify_chains(kernel.db, kernel.tenants.codes_by_id()))
