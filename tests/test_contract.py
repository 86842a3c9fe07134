"""The contract suite (``nentang.sdk.testing.contract``, ``nentang sdk check``) on plugin projects.

Each test starts from the scaffold's output (a plugin that passes everything) and breaks what it
wants to see reported. The projects are not installed: the suite makes them discoverable for the
duration of the check. Every check imports the plugin's modules, so every test uses a plugin name
of its own.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nentang.kernel.cli.main import app
from nentang.sdk import __version__ as sdk_version
from nentang.sdk.scaffold import render_plugin
from nentang.sdk.testing.contract import CHECKS, ContractReport, check_plugin

POSTGRES = os.environ.get("NENTANG_DATABASE_URL", "")
ON_POSTGRES = POSTGRES.startswith("postgresql")
_names = itertools.count(1)


def unique_name() -> str:
    return f"ct{os.getpid() % 10_000}n{next(_names)}"


Project = Callable[..., Path]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh scaffold of a plugin with a name of its own; ``project()`` → its folder."""

    def make() -> Path:
        return render_plugin(unique_name(), tmp_path, sdk_version=sdk_version)

    return make


def check(path: Path) -> ContractReport:
    return check_plugin(path, postgres_url=POSTGRES if ON_POSTGRES else None)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def package(root: Path) -> Path:
    return next((root / "src").glob("nentang_*"))


def statuses(report: ContractReport) -> dict[str, str]:
    return {r.check: r.status for r in report.results}


def test_the_scaffold_passes_every_check(project: Project) -> None:
    report = check(project())
    assert report.ok, report.text()
    assert statuses(report) == dict.fromkeys(CHECKS, "passed")
    assert report.findings == []
    assert "result: PASSED" in report.text()


def test_every_problem_is_reported_with_its_code_in_one_run(project: Project) -> None:
    root = project()
    name = root.name.removeprefix("nentang-")
    src = package(root)
    # a permission checked but not declared (and so the declared .write is never checked)
    edit(src / "graphql.py", f'require_permission("{name}.write")', f'require_permission("{name}.delete")')
    edit(src / "pages.py", f'WRITE = "{name}.write"', f'WRITE = "{name}.delete"')
    # a check the scan cannot read
    edit(
        src / "service.py",
        "    ctx.session.add(greeting)\n",
        "    ctx.has_permission(ctx.plugin + '.x')\n    ctx.session.add(greeting)\n",
    )
    # tests reaching into the kernel
    edit(
        root / "tests" / f"test_{name}.py",
        "import pytest\n",
        "import pytest\n\nfrom nentang.kernel.runtime import Kernel\n",
    )
    # a table without a tenant, with its migration
    (src / "logbook.py").write_text(
        "from sqlmodel import Field, SQLModel\n\n\n"
        f"class Logbook(SQLModel, table=True):\n    __tablename__ = '{name}_logbook'\n"
        "    id: int = Field(primary_key=True)\n    line: str\n"
    )
    edit(
        src / "plugin.py",
        "from nentang.sdk import",
        f"from {src.name} import logbook  # noqa: F401\nfrom nentang.sdk import",
    )
    (src / "migrations" / f"{name}_0002_logbook.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = '{name}_0002'\ndown_revision = '{name}_0001'\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n    op.create_table('{name}_logbook', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('line', sa.String, nullable=False))\n\n\ndef downgrade():\n    pass\n"
    )
    # an event handler that raises on events it does not know
    edit(
        src / "plugin.py",
        "    if event.type == service.GREETING_ADDED:",
        "    if event.type != service.GREETING_ADDED:\n        raise KeyError(event.type)\n    if True:",
    )
    # a disable hook that throws the data away
    edit(
        src / "plugin.py",
        '    ctx.audit("disabled", ctx.tenant.code)',
        '    ctx.audit("disabled", ctx.tenant.code)\n    from sqlalchemy import delete\n'
        f"    from {src.name}.models import {name.capitalize()}Greeting\n"
        f"    ctx.session.execute(delete({name.capitalize()}Greeting))",
    )
    # a GraphQL field outside the plugin's namespace: its whole contribution is left out
    edit(src / "graphql.py", f"    async def {name}_greetings(", "    async def greetings(")

    report = check(root)

    assert not report.ok
    expected = [
        "contract.data_lost",
        "contract.graphql_missing",
        "contract.hook_failed",
        "contract.permission_undeclared",
        "contract.permission_unused",
        "contract.table_not_tenant_owned",
        "static.kernel_import",
    ]
    if ON_POSTGRES:  # row-level security exists there only
        expected.append("contract.table_rls_missing")
    assert report.codes == sorted(expected), report.text()
    found = {(f.code, f.location.split(":")[0]) for f in report.findings}
    assert ("contract.permission_undeclared", f"src/{src.name}/graphql.py") in found
    assert ("static.kernel_import", f"tests/test_{name}.py") in found
    assert ("contract.permission_dynamic", f"src/{src.name}/service.py") in found  # a warning
    not_tenant_owned = [f for f in report.findings if f.code == "contract.table_not_tenant_owned"]
    assert {f.location for f in not_tenant_owned} == {f"{name}_logbook", f"{src.name}.logbook.Logbook"}
    assert statuses(report) == {
        "manifest": "passed",
        "static": "failed",
        "permissions": "failed",
        "settings_schema": "passed",
        "migrations": "passed",
        "load": "passed",
        "tables": "failed",
        "hooks_silent": "failed",
        "lifecycle": "failed",
        "graphql": "failed",
        "console": "passed",
    }
    assert "FAILED (" in report.text() and "[contract.data_lost]" in report.text()


def test_a_kernel_that_leaked_hooks_and_fields_would_be_caught(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatch guarantee is the kernel's; the suite must still see a breach of it. Here the
    kernel is made to believe the plugin is enabled everywhere."""
    from nentang.kernel.plugins import runtime
    from nentang.kernel.plugins.dispatch import TenantPlugins
    from nentang.kernel.propagation.cache import LoadingCache

    root = project()
    name = root.name.removeprefix("nentang-")

    def everywhere(db: object, max_tenants: int = 100) -> LoadingCache[int, TenantPlugins]:
        return LoadingCache(lambda _tenant: TenantPlugins(enabled=frozenset({name}), settings={name: {}}), 100)

    monkeypatch.setattr(runtime, "activation_cache", everywhere)
    report = check(root)
    assert set(report.codes) == {
        "contract.hook_while_disabled",
        "contract.graphql_leak",
        "contract.console_leak",
    }, report.text()
    leaks = {f.location for f in report.findings if f.code == "contract.hook_while_disabled"}
    assert {"nentang_plugin_enable@00002", "nentang_event_received@00002", "nentang_plugin_disable@00001"} <= leaks


def test_broken_migrations_skip_what_needs_them_and_the_rest_still_runs(project: Project) -> None:
    root = project()
    name = root.name.removeprefix("nentang-")
    src = package(root)
    edit(src / "migrations" / f"{name}_0001_greeting.py", "op.create_table(", "op.create_tabel(")
    edit(src / "migrations" / f"{name}_0001_greeting.py", 'depends_on = "kernel"', "depends_on = None")
    edit(src / "nentang-plugin.toml", 'examples = [{ greeting = "Xin chào" }]', "examples = [{ greeting = 7 }]")
    report = check(root)
    assert report.codes == ["contract.migration_failed", "contract.settings_schema"], report.text()
    assert statuses(report)["load"] == "skipped" and statuses(report)["permissions"] == "passed"
    assert "create_tabel" in next(f.message for f in report.findings if f.code == "contract.migration_failed")


def test_a_plugin_that_refuses_to_be_enabled_is_reported_and_its_tables_are_still_checked(project: Project) -> None:
    root = project()
    src = package(root)
    edit(
        src / "plugin.py",
        '    ctx.audit("enabled"',
        '    raise RuntimeError("no archive officer")\n    ctx.audit("enabled"',
    )
    report = check(root)
    assert report.codes == ["contract.enable_failed"], report.text()
    assert statuses(report)["tables"] == "passed" and statuses(report)["hooks_silent"] == "passed"
    assert "no archive officer" in report.errors[0].message


def test_the_migration_branch_must_be_the_plugins_own(project: Project) -> None:
    root = project()
    name = root.name.removeprefix("nentang-")
    edit(
        package(root) / "migrations" / f"{name}_0001_greeting.py",
        f'branch_labels = ("{name}",)',
        "branch_labels = None",
    )
    report = check(root)
    assert report.codes == ["contract.migration_branch"], report.text()


def test_something_that_is_not_a_plugin_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    report = check(tmp_path)
    assert report.codes == ["contract.source"]
    assert statuses(report) == {"manifest": "failed", **{c: "skipped" for c in CHECKS[1:]}}


@pytest.mark.usefixtures("restored_logging")
def test_the_command_prints_the_report_and_exits_with_its_verdict(project: Project, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--postgres", POSTGRES] if ON_POSTGRES else []
    good = runner.invoke(app, ["sdk", "check", str(project()), *args])
    assert good.exit_code == 0, good.output
    assert "result: PASSED" in good.output
    bad = runner.invoke(app, ["sdk", "check", str(tmp_path / "missing"), "--json"])
    assert bad.exit_code == 1
    body = json.loads(bad.output)
    assert body["ok"] is False and body["findings"][0]["code"] == "contract.source"
