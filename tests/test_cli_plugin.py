"""``nentang plugin``: help, list, enable, disable, settings, and bad input — driven in process with
typer's CliRunner against the test database (SQLite, or PostgreSQL with NENTANG_DATABASE_URL).
Allow, lock, release and rescan are in ``test_cli_plugin_policy.py``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.cli.main import app
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.settings import MASK
from nentang.kernel.runtime import Kernel
from tests.cli_fixtures import SECRET, Cli, details, failed, ok, rows, runner, state
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory, calls

# -- help ---------------------------------------------------------------------------------------

HELP = [
    ((), "Plugins: what is installed"),
    (("list",), "List installed plugins"),
    (("enable",), "Enable a plugin at a tenant"),
    (("disable",), "Disable a plugin at a tenant"),
    (("allow",), "Allow a plugin in the tenants below"),
    (("lock",), "Lock a plugin on in the tenants below"),
    (("settings",), "Show a plugin's settings at a tenant"),
    (("rescan",), "Find plugins installed since start-up"),
    (("release",), "Lift a plugin's quarantine at a tenant"),
]


@pytest.mark.parametrize(("command", "summary"), HELP, ids=[" ".join(c) or "plugin" for c, _ in HELP])
def test_every_plugin_command_has_help(command: tuple[str, ...], summary: str) -> None:
    result = runner.invoke(app, ["plugin", *command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert summary in " ".join(result.stdout.split())


def test_the_top_level_help_lists_the_plugin_group() -> None:
    assert re.search(r"\bplugin\b", ok(runner.invoke(app, ["--help"])))


# -- list ---------------------------------------------------------------------------------------


def test_list_shows_every_installed_plugin_with_status_reason_findings_and_approval(
    cli: Cli, plugin_factory: PluginFactory, registry: Path, tree: Tree
) -> None:
    plugin_factory.make("alpha", RECORDING_CODE)
    plugin_factory.make("reviewed", RECORDING_CODE)
    plugin_factory.approve(registry, "reviewed")
    plugin_factory.make("tampered", RECORDING_CODE)
    plugin_factory.approve(registry, "tampered")
    (plugin_factory.root / "nentang_tampered" / "plugin.py").write_text(RECORDING_CODE + "# changed\n")
    plugin_factory.make("exploding", "raise RuntimeError('boom at import')")
    plugin_factory.make("future", "raise RuntimeError('never imported')", api=">=9.0")

    result = cli("list")
    out = ok(result)
    table = rows(out)
    assert table["alpha"][:4] == ["alpha", "0.1.0", "registered", "unapproved"]
    assert table["reviewed"][:4] == ["reviewed", "0.1.0", "registered", "approved"]
    assert table["tampered"][:4] == ["tampered", "0.1.0", "registered", "modified"]
    assert table["exploding"][2] == "quarantined"
    assert details(out, "exploding") == [
        "reason: importing nentang_exploding.plugin raised RuntimeError: boom at import"
    ]
    assert table["future"][2] == "quarantined"
    future = details(out, "future")
    assert future[0] == "reason: its manifest or requirements are not acceptable"
    assert any(line.startswith("finding: [plugin.incompatible_api]") and ">=9.0" in line for line in future[1:])
    assert re.fullmatch(r"\(\d+ plugins installed, \d+ quarantined\)\n", result.stderr)


def test_production_mode_quarantines_the_unapproved_and_says_why(
    cli: Cli, plugin_factory: PluginFactory, registry: Path, tree: Tree
) -> None:
    plugin_factory.make("reviewed", RECORDING_CODE)
    plugin_factory.approve(registry, "reviewed")
    plugin_factory.make("unreviewed", RECORDING_CODE)
    out = ok(cli("list", mode="production"))
    assert rows(out)["reviewed"][2:4] == ["registered", "approved"]
    assert rows(out)["unreviewed"][2] == "quarantined"
    assert details(out, "unreviewed")[0] == "reason: not approved as installed (production mode)"
    assert details(out, "unreviewed")[1].startswith("finding: [approval.missing]")

    message = failed(cli("enable", "unreviewed", "--tenant", "00001", mode="production"), "plugin.quarantined")
    assert "not approved" in message and "approval.missing" in message
    enabled = ok(cli("enable", "reviewed", "--tenant", "00001", mode="production"))
    assert enabled == "enabled reviewed 0.1.0 at 00001\n"


def test_list_at_a_tenant_shows_enabled_lock_masked_settings_and_tenant_quarantine(
    cli: Cli, alpha: str, plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("beta", RECORDING_CODE)
    plugin_factory.make("exploding", "raise RuntimeError('boom at import')")
    ok(cli("enable", "alpha", "--tenant", "00001", "--settings", json.dumps({"limit": 5, "api_key": SECRET})))
    ok(cli("lock", "beta", "--tenant", "01"))
    kernel = make_kernel()
    for _ in range(kernel.plugins.budget.budget):
        kernel.plugins.budget.failed("alpha", tenant_ref(tree.c1), RuntimeError("the archive is offline"))

    out = ok(cli("list", "--tenant", "00001"))
    assert SECRET not in out
    table = rows(out)
    assert table["alpha"][4:] == ["enabled"]
    assert details(out, "alpha") == [
        f'settings: {{"api_key": "{MASK}", "limit": 5}}',
        "quarantined at 00001: 5 consecutive failures; last: RuntimeError: the archive is offline",
    ]
    assert table["beta"][4:] == ["enabled,", "locked", "on", "by", "01"]
    assert table["exploding"][2:] == ["quarantined", "unapproved", "disabled"]

    other = ok(cli("list", "--tenant", "00003"))
    assert rows(other)["alpha"][4:] == ["disabled"]
    assert rows(other)["beta"][4:] == ["disabled"]
    assert details(other, "alpha") == []


def test_an_activation_of_a_plugin_no_longer_installed_is_listed_as_such(
    cli: Cli, alpha: str, plugin_factory: PluginFactory, tree: Tree
) -> None:
    ok(cli("enable", "alpha", "--tenant", "00001"))
    shutil.rmtree(plugin_factory.root / "nentang_alpha")
    shutil.rmtree(plugin_factory.root / "nentang_alpha-0.1.0.dist-info")
    out = ok(cli("list", "--tenant", "00001"))
    assert rows(out)["alpha"] == ["alpha", "0.1.0", "uninstalled", "-", "enabled"]
    assert "alpha" not in rows(ok(cli("list")))


# -- enable, disable, settings ------------------------------------------------------------------


def test_enable_settings_disable_round_trip(
    cli: Cli, alpha: str, kernel: Kernel, tree: Tree, tmp_path: Path, registry: Path
) -> None:
    secret_file = tmp_path / "alpha.json"
    secret_file.write_text(json.dumps({"greeting": "xin chào", "api_key": SECRET}))
    result = cli("enable", "alpha", "--tenant", "00001", "--settings-file", str(secret_file))
    assert ok(result) == (
        f'enabled alpha 0.1.0 at 00001\n  settings: {{"api_key": "{MASK}", "greeting": "xin chào"}}\n'
    )
    assert result.stderr.strip() == (
        "warning: alpha 0.1.0 is not approved as installed (approval.missing); only development mode allows that"
    )
    assert calls("alpha") == [("enable", "00001", {"greeting": "xin chào", "api_key": SECRET})]

    shown = ok(cli("settings", "alpha", "--tenant", "00001"))
    assert json.loads(shown) == {"api_key": MASK, "greeting": "xin chào"}

    # the shown (masked) settings can be edited and given back: the secret is kept
    updated = ok(cli("settings", "alpha", "--tenant", "00001", "--set", json.dumps({"api_key": MASK, "limit": 7})))
    assert updated == f'updated the settings of alpha at 00001\n  settings: {{"api_key": "{MASK}", "limit": 7}}\n'
    kernel.plugins.scan()
    kernel.plugins.dispatcher.activations.evict(None)
    assert kernel.plugins.dispatcher.activations.get(tree.c1.id).settings["alpha"] == {"api_key": SECRET, "limit": 7}
    # from standard input
    ok(cli("settings", "alpha", "--tenant", "00001", "--set-file", "-", input='{"limit": 9}'))
    assert json.loads(ok(cli("settings", "alpha", "--tenant", "00001"))) == {"limit": 9}

    assert (
        ok(cli("disable", "alpha", "--tenant", "00001")) == "disabled alpha at 00001 (its data and settings are kept)\n"
    )
    assert [c[0] for c in calls("alpha")] == ["enable", "disable"]
    after = cli("settings", "alpha", "--tenant", "00001")
    assert json.loads(ok(after)) == {"limit": 9}
    assert after.stderr.strip() == "(alpha is not enabled at 00001)"

    with kernel.db.tenant(tree.c1.id) as session:
        everything = session.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.detail)).all()
    entries = [e for e in everything if e.action.startswith("plugin.")]
    assert [e.action for e in entries] == [
        "plugin.enable",
        "plugin.settings",
        "plugin.settings",
        "plugin.disable",
    ]
    assert all(e.actor.startswith("cli:") for e in entries)
    assert SECRET not in " ".join(e.detail for e in entries)


def test_enable_with_dependencies(cli: Cli, plugin_factory: PluginFactory, tree: Tree) -> None:
    plugin_factory.make("base", RECORDING_CODE)
    plugin_factory.make("addon", requires={"base": ">=0.1"})
    message = failed(cli("enable", "addon", "--tenant", "00001"), "plugin.missing_dependency")
    assert "base" in message and "--with-dependencies" not in message
    out = ok(cli("enable", "addon", "--tenant", "00001", "--with-dependencies"))
    assert out == "enabled addon 0.1.0 at 00001\n  also enabled (required by addon): base\n"
    assert calls("base") == [("enable", "00001", {})]
    assert failed(cli("disable", "base", "--tenant", "00001"), "plugin.has_dependents")


# -- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_one_clear_line_and_changes_nothing(
    cli: Cli,
    alpha: str,
    plugin_factory: PluginFactory,
    kernel: Kernel,
    tree: Tree,
    tmp_path: Path,
    subtests: pytest.Subtests,
) -> None:
    plugin_factory.make("communal", levels=["commune"])
    plugin_factory.make("exploding", "raise RuntimeError('boom at import')")
    ok(cli("enable", "alpha", "--tenant", "00003", "--settings", '{"limit": 3}'))
    ok(cli("allow", "alpha", "--tenant", "01", "--deny"))
    ok(cli("lock", "communal", "--tenant", "02"))
    not_a_file = tmp_path / "missing.json"
    bad = [
        (("enable", "nope", "--tenant", "00001"), "plugin.not_installed", "'nope' is not installed"),
        (("disable", "nope", "--tenant", "00001"), "plugin.not_enabled", "'nope' is not enabled at '00001'"),
        (("settings", "nope", "--tenant", "00001"), "plugin.not_installed", "'nope' is not installed"),
        (("allow", "nope", "--tenant", "01"), "plugin.not_installed", "'nope' is not installed"),
        (("lock", "nope", "--tenant", "01"), "plugin.not_installed", "'nope' is not installed"),
        (("release", "nope", "--tenant", "00001"), "plugin.not_quarantined", "'nope' is not quarantined"),
        (("enable", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("disable", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("settings", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("allow", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("lock", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("release", "alpha", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("list", "--tenant", "99999"), "tenant.not_found", "'99999'"),
        (("enable", "alpha", "--tenant", "00002", "--settings", "{limit: 5"), "plugin.settings_json", "not valid JSON"),
        (("enable", "alpha", "--tenant", "00002", "--settings", "[5]"), "plugin.settings_json", "JSON object"),
        (
            ("enable", "alpha", "--tenant", "00002", "--settings", "{}", "--settings-file", str(not_a_file)),
            "validation.failed",
            "not both",
        ),
        (("enable", "alpha", "--tenant", "00002", "--settings-file", str(not_a_file)), "plugin.settings_file", ""),
        (("settings", "alpha", "--tenant", "00003", "--set", "{limit: 5"), "plugin.settings_json", "line 1"),
        (("enable", "alpha", "--tenant", "02", "--settings", '{"limit": 0}'), "plugin.settings", "limit"),
        (("enable", "alpha", "--tenant", "02", "--settings", '{"colour": 1}'), "plugin.settings", "colour"),
        (("settings", "alpha", "--tenant", "00003", "--set", '{"limit": "ten"}'), "plugin.settings", "limit"),
        (("settings", "alpha", "--tenant", "00001", "--set", '{"limit": 5}'), "plugin.not_enabled", "never enabled"),
        (("enable", "alpha", "--tenant", "00001"), "plugin.not_allowed", "'01' does not allow plugin 'alpha'"),
        (("enable", "alpha", "--tenant", "00003"), "plugin.already_enabled", "already enabled"),
        (("disable", "alpha", "--tenant", "00002"), "plugin.not_enabled", "not enabled"),
        (("disable", "communal", "--tenant", "00003"), "plugin.locked", "locked on at '00003' by '02'"),
        (("enable", "communal", "--tenant", "01"), "plugin.level", "commune level only"),
        (("enable", "exploding", "--tenant", "00001"), "plugin.quarantined", "boom at import"),
        (("allow", "alpha", "--tenant", "02", "--deny"), "plugin.enabled_below", "00003"),
    ]
    before = state(kernel, tree)
    for args, code, fragment in bad:
        with subtests.test(command=" ".join(args)):
            message = failed(cli(*args), code)
            assert fragment in message
    assert state(kernel, tree) == before  # once at the end: reading every activation and chain is not cheap
    assert not_a_file.name in failed(
        cli("enable", "alpha", "--tenant", "00002", "--settings-file", str(not_a_file)), "plugin.settings_file"
    )
