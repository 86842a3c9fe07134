"""The ``nentang`` command line, driven in process with typer's CliRunner against the test database."""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner, Result

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.cli import serve as serve_module
from nentang.kernel.cli.main import app
from nentang.kernel.cli.serve import shown_database_url
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantStatus
from tests.cli_fixtures import failed, ok
from tests.conftest import ACTOR, ON_POSTGRES, TEST_SECRETS_KEY, Tree

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Every command configures logging onto the runner's stderr; put the configuration back."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what ``serve`` would hand to uvicorn instead of starting a server (which would block)."""
    calls: list[dict[str, Any]] = []

    def fake_run(target: str, **kwargs: Any) -> None:
        calls.append({"target": target, **kwargs})

    monkeypatch.setattr(serve_module.uvicorn, "run", fake_run)
    return calls


def nentang(database_url: str, *args: str, **env: str | None) -> Result:
    environment: dict[str, str | None] = {
        "NENTANG_DATABASE_URL": database_url,
        "NENTANG_LOG_FORMAT": "console",
        "NENTANG_MODE": None,
        "NENTANG_SECRETS_KEY": TEST_SECRETS_KEY,  # production, the default, requires one
        "NENTANG_LOG_LEVEL": None,
        **env,
    }
    return runner.invoke(app, list(args), env=environment)


def audit_total(kernel: Kernel) -> int:
    reports = verify_chains(kernel.db, kernel.tenants.codes_by_id())
    assert all(r.ok for r in reports), reports
    return sum(r.checked for r in reports)


# -- help --------------------------------------------------------------------------------------

HELP = [
    ((), "NenTang platform kernel"),
    (("serve",), "Serve the platform over HTTP"),
    (("demo",), "Set up the embedded demo"),
    (("db",), "Database schema"),
    (("db", "upgrade"), "Bring the database to the newest schema"),
    (("db", "current"), "Show the applied revisions"),
    (("tenant",), "Tenants: the central level"),
    (("tenant", "create"), "Provision a tenant"),
    (("tenant", "list"), "List tenants"),
    (("tenant", "show"), "Show one tenant with its ancestors"),
    (("tenant", "rename"), "Change a tenant's name"),
    (("tenant", "move"), "Move a tenant and its whole subtree"),
    (("tenant", "suspend"), "Suspend a tenant"),
    (("tenant", "reactivate"), "Reactivate a suspended tenant"),
    (("audit",), "The append-only, hash-chained audit log"),
    (("audit", "verify"), "Check every chain"),
]


@pytest.mark.parametrize(("command", "summary"), HELP, ids=[" ".join(c) or "nentang" for c, _ in HELP])
def test_every_command_has_help(command: tuple[str, ...], summary: str) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert summary in " ".join(result.stdout.split())  # rich may wrap the summary


def test_top_level_help_lists_every_command() -> None:
    out = ok(runner.invoke(app, ["--help"]))
    for name in ("serve", "demo", "db", "tenant", "audit"):
        assert re.search(rf"\b{name}\b", out), name


def test_serve_help_lists_host_port_and_workers() -> None:
    out = ok(runner.invoke(app, ["serve", "--help"]))
    for option in ("--host", "--port", "--workers"):
        assert option in out


# -- db ----------------------------------------------------------------------------------------


def test_db_upgrade_brings_a_fresh_sqlite_file_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    before = ok(nentang(url, "db", "current"))
    assert "applied: (none)" in before
    assert re.search(r"pending: (\w+, )*k\d{4}", before)  # with the heads of installed plugins' branches

    out = ok(nentang(url, "db", "upgrade"))
    # the applied tips: the kernel's own, or plugin revisions that depend on (and so stand for) it
    assert re.fullmatch(r"database at head: \w+(, \w+)*\n", out), out
    assert (tmp_path / "fresh.db").is_file()
    after = ok(nentang(url, "db", "current"))
    assert "up to date" in after
    assert "applied: (none)" not in after

    assert ok(nentang(url, "db", "upgrade")) == out  # a second upgrade changes nothing
    listing = nentang(url, "tenant", "list")
    assert ok(listing) == ""
    assert "(0 tenants)" in listing.stderr


def test_db_upgrade_with_a_revision_no_installed_package_provides_is_a_clear_error(database_url: str) -> None:
    # The suite's database carries the test plugin's revision n0001, which the command line does not know.
    message = failed(nentang(database_url, "db", "upgrade"), "db.migration_failed")
    assert "n0001" in message
    assert "no longer installed" in message

    current = nentang(database_url, "db", "current")
    assert current.exit_code == 1
    assert "n0001" in current.stdout  # what is applied is still shown...
    (line,) = current.stderr.strip().splitlines()  # ...then one error line, no traceback
    assert line.startswith("error [db.migration_failed]: ") and "n0001" in line
    assert "Traceback" not in current.output


# -- tenant --------------------------------------------------------------------------------------


def test_tenant_round_trip(database_url: str, kernel: Kernel) -> None:
    assert ok(nentang(database_url, "tenant", "create", "TW", "Trung ương", "--kind", "central")) == (
        "created central TW (Trung ương)\n"
    )
    ok(nentang(database_url, "tenant", "create", "01", "Thành phố Hà Nội", "--kind", "province", "--parent", "TW"))
    ok(nentang(database_url, "tenant", "create", "02", "Tỉnh Tuyên Quang", "--kind", "province", "-p", "TW"))
    ok(nentang(database_url, "tenant", "create", "00001", "Phường Một", "--kind", "commune", "-p", "01"))
    out = ok(nentang(database_url, "tenant", "create", "UBND-1", "Ủy ban nhân dân", "-p", "00001"))
    assert out == "created unit UBND-1 (Ủy ban nhân dân)\n"  # "unit" is the default kind

    listing = nentang(database_url, "tenant", "list")
    assert [line.split()[0] for line in ok(listing).splitlines()] == ["00001", "01", "02", "TW", "UBND-1"]
    assert "(5 tenants)" in listing.stderr
    assert [line.split()[0] for line in ok(nentang(database_url, "tenant", "list", "--limit", "2")).splitlines()] == [
        "00001",
        "01",
    ]
    provinces = ok(nentang(database_url, "tenant", "list", "--kind", "province"))
    assert [line.split()[:2] for line in provinces.splitlines()] == [["01", "province"], ["02", "province"]]
    children = ok(nentang(database_url, "tenant", "list", "--parent", "TW"))
    assert [line.split()[0] for line in children.splitlines()] == ["01", "02"]
    subtree = ok(nentang(database_url, "tenant", "list", "--parent", "01", "--subtree"))
    assert [line.split()[0] for line in subtree.splitlines()] == ["01", "00001", "UBND-1"]
    # --limit holds with --parent too, and says that more are left
    first_two = nentang(database_url, "tenant", "list", "--parent", "01", "--subtree", "--limit", "2")
    assert [line.split()[0] for line in ok(first_two).splitlines()] == ["01", "00001"]
    assert "(2 of 3 tenants: raise --limit to see more)" in first_two.stderr

    shown = ok(nentang(database_url, "tenant", "show", "UBND-1"))
    assert "code:      UBND-1" in shown
    assert "kind:      unit" in shown
    assert "status:    active" in shown
    assert "ancestors: TW > 01 > 00001" in shown
    assert "ancestors: (root)" in ok(nentang(database_url, "tenant", "show", "TW"))
    assert "children:  2" in ok(nentang(database_url, "tenant", "show", "TW"))

    assert ok(nentang(database_url, "tenant", "rename", "00001", "Phường Hoàn Kiếm")) == (
        "renamed 00001 to Phường Hoàn Kiếm\n"
    )
    assert ok(nentang(database_url, "tenant", "move", "00001", "--to", "02")) == "moved 00001 under 02\n"
    assert "ancestors: TW > 02 > 00001" in ok(nentang(database_url, "tenant", "show", "UBND-1"))
    assert ok(nentang(database_url, "tenant", "suspend", "02", "--reason", "kiểm tra")) == "suspended 02\n"
    assert "status:    suspended" in ok(nentang(database_url, "tenant", "show", "02"))
    assert ok(nentang(database_url, "tenant", "reactivate", "02")) == "reactivated 02\n"

    # The commands changed the same database the kernel API reads.
    t = kernel.tenants
    assert t.get("00001").name == "Phường Hoàn Kiếm"
    assert [a.code for a in t.ancestors("UBND-1")] == ["TW", "02", "00001"]
    assert t.get("02").status == TenantStatus.ACTIVE
    assert t.get("UBND-1").depth == 3
    # 5 creates + rename + move + suspend + reactivate, each audited, each by the operator.
    assert audit_total(kernel) == 9
    with kernel.db.tenant(t.get("02").id) as session:
        actors = set(session.scalars(select(AuditEntry.actor)))
    assert actors == {f"cli:{getpass.getuser()}"}

    out = ok(nentang(database_url, "audit", "verify"))
    assert out.strip().splitlines()[-1] == "audit: 5 chains, 9 entries verified, 0 broken"


BAD_COMMANDS = [
    (("tenant", "create", "00001", "Bản sao", "--kind", "commune", "-p", "02"), "tenant.code_taken", "'00001'"),
    (("tenant", "create", "00009", "Xã lạc", "--kind", "commune", "-p", "99"), "tenant.not_found", "'99'"),
    (("tenant", "create", "00009", "Xã", "--kind", "commune", "-p", "TW"), "tenant.rule_violated", "commune"),
    (("tenant", "create", "a b", "Đơn vị", "-p", "01"), "validation.failed", "'a b' is not valid"),
    (("tenant", "create", "U9", "  ", "-p", "01"), "validation.failed", "name must be 1-255"),
    (("tenant", "move", "01", "--to", "00001"), "tenant.rule_violated", "which would make a cycle"),
    (("tenant", "move", "01", "--to", "01"), "tenant.rule_violated", "the tenant itself"),
    (("tenant", "move", "nope", "--to", "01"), "tenant.not_found", "'nope'"),
    (("tenant", "suspend", "TW"), "tenant.rule_violated", "already suspended"),
    (("tenant", "reactivate", "01"), "tenant.rule_violated", "already active"),
    (("tenant", "show", "nope"), "tenant.not_found", "'nope'"),
    (("tenant", "list", "--parent", "nope"), "tenant.not_found", "'nope'"),
    (("tenant", "list", "--limit", "0"), "validation.failed", "limit must be between 1 and 1000"),
    (("tenant", "list", "--parent", "TW", "--limit", "0"), "validation.failed", "limit must be between 1 and 1000"),
    (("audit", "verify", "--tenant", "nope"), "tenant.not_found", "'nope'"),
]


def test_errors_are_one_line_and_change_nothing(
    database_url: str, kernel: Kernel, tree: Tree, subtests: pytest.Subtests
) -> None:
    kernel.tenants.suspend("TW", actor=ACTOR)

    def state() -> tuple[object, ...]:
        return ([(t.code, t.name, t.path, t.status) for t in kernel.tenants.list()], audit_total(kernel))

    before = state()
    for args, code, fragment in BAD_COMMANDS:
        with subtests.test(command=" ".join(args)):
            message = failed(nentang(database_url, *args), code)
            assert fragment in message
            assert state() == before


def test_an_unknown_kind_is_refused_by_the_option_parser(database_url: str, kernel: Kernel, tree: Tree) -> None:
    result = nentang(database_url, "tenant", "create", "X1", "Đơn vị", "--kind", "district", "-p", "01")
    assert result.exit_code == 2
    assert "district" in result.stderr
    assert "Traceback" not in result.output
    assert kernel.tenants.count() == 6


# -- audit ---------------------------------------------------------------------------------------


def tamper_with_audit_entry(database_url: str, tenant_id: int, seq: int) -> None:
    """Change one stored audit entry behind the kernel's back, as someone with database access could."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            if ON_POSTGRES:
                conn.execute(text("ALTER TABLE kernel_audit DISABLE TRIGGER kernel_audit_append_only"))
            else:
                conn.execute(text("DROP TRIGGER kernel_audit_no_update"))
            update = text("UPDATE kernel_audit SET actor = 'x' WHERE tenant_id = :t AND seq = :s")
            changed = conn.execute(update, {"t": tenant_id, "s": seq})
            assert changed.rowcount == 1
            if ON_POSTGRES:
                conn.execute(text("ALTER TABLE kernel_audit ENABLE TRIGGER kernel_audit_append_only"))
    finally:
        engine.dispose()


def test_audit_verify_passes_on_an_intact_log(database_url: str, tree: Tree) -> None:
    out = ok(nentang(database_url, "audit", "verify"))
    assert out.strip().splitlines() == ["audit: 6 chains, 6 entries verified, 0 broken"]
    out = ok(nentang(database_url, "audit", "verify", "--tenant", "00001"))
    assert out.strip().splitlines() == ["audit: 1 chains, 1 entries verified, 0 broken"]


def test_audit_verify_names_the_altered_entry(database_url: str, kernel: Kernel, tree: Tree) -> None:
    kernel.tenants.rename("00001", "Phường Một Mới", actor=ACTOR)  # entries 1 and 2 on 00001
    tamper_with_audit_entry(database_url, tree.c1.id, seq=2)

    result = nentang(database_url, "audit", "verify")
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    broken = [line for line in lines if line.startswith("BROKEN")]
    assert broken == [
        "BROKEN tenant 00001: entry 2: entry 2 was altered after it was written "
        "(its content no longer matches its hash)"
    ]
    assert lines[-1] == "audit: 6 chains, 6 entries verified, 1 broken"  # 00001 counts its 1 entry before the break
    assert "Traceback" not in result.output

    assert nentang(database_url, "audit", "verify", "--tenant", "00001").exit_code == 1
    ok(nentang(database_url, "audit", "verify", "--tenant", "00002"))


# -- settings from the environment ---------------------------------------------------------------


def test_a_bad_environment_value_is_a_clear_error(
    database_url: str, no_uvicorn: list[dict[str, Any]], subtests: pytest.Subtests
) -> None:
    for args in (("tenant", "list"), ("db", "current"), ("db", "upgrade"), ("audit", "verify"), ("serve",)):
        with subtests.test(command=" ".join(args)):
            message = failed(nentang(database_url, *args, NENTANG_MODE="bogus"), "validation.failed")
            assert message == "NENTANG_MODE must be 'production' or 'development', not 'bogus'"
    assert no_uvicorn == []


def test_a_bad_log_level_is_a_clear_error(database_url: str) -> None:
    message = failed(nentang(database_url, "tenant", "list", NENTANG_LOG_LEVEL="loud"), "validation.failed")
    assert message.startswith("NENTANG_LOG_LEVEL must be one of")


def test_an_unsupported_database_url_is_a_clear_error() -> None:
    message = failed(nentang("mysql://root@127.0.0.1/nentang", "tenant", "list"), "validation.failed")
    assert "NenTang runs on SQLite (embedded) or PostgreSQL" in message


# -- serve and demo ------------------------------------------------------------------------------


def test_serve_hands_its_options_to_uvicorn(
    database_url: str, no_uvicorn: list[dict[str, Any]], tmp_path: Path
) -> None:
    registry = str(tmp_path / "registry.toml")
    # Production mode (the default) serves only with the registry of approvals configured.
    refused = nentang(database_url, "serve", NENTANG_REGISTRY=None)
    assert refused.exit_code == 1 and "needs NENTANG_REGISTRY" in refused.stderr and no_uvicorn == []
    ok(
        nentang(
            database_url, "serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "2", NENTANG_REGISTRY=registry
        )
    )
    (call,) = no_uvicorn
    assert call["target"] == "nentang.kernel.http.server:app_from_environ"
    assert (call["factory"], call["host"], call["port"], call["workers"]) == (True, "0.0.0.0", 9001, 2)


def test_serve_refuses_zero_workers(database_url: str, no_uvicorn: list[dict[str, Any]]) -> None:
    result = nentang(database_url, "serve", "--workers", "0")
    assert result.exit_code == 2
    assert no_uvicorn == []


def test_serve_in_production_refuses_a_missing_or_bad_secrets_key(
    database_url: str, no_uvicorn: list[dict[str, Any]], tmp_path: Path
) -> None:
    registry = str(tmp_path / "registry.toml")
    message = failed(nentang(database_url, "serve", NENTANG_SECRETS_KEY=None, NENTANG_REGISTRY=registry), "secrets.key")
    assert "NENTANG_SECRETS_KEY is required in production mode" in message
    bad = {"NENTANG_SECRETS_KEY": "not-a-fernet-key", "NENTANG_REGISTRY": registry}
    message = failed(nentang(database_url, "serve", **bad), "secrets.key")
    assert "URL-safe base64" in message
    assert no_uvicorn == []


def test_the_demo_never_prints_a_database_password() -> None:
    shown = shown_database_url("postgresql+psycopg://nentang:s3cr%40t@db.example:5432/nentang")
    assert shown == "postgresql+psycopg://nentang:***@db.example:5432/nentang"
    assert "s3cr" not in shown
    assert shown_database_url("sqlite:///var/nentang.db") == "sqlite:///var/nentang.db"


@pytest.mark.skipif(ON_POSTGRES, reason="the demo is the embedded SQLite default; one SQLite run covers it")
def test_demo_sets_up_the_national_tree_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[dict[str, Any]]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("NENTANG_DATABASE_URL", "NENTANG_MODE", "NENTANG_LOG_FORMAT", "NENTANG_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)  # the demo's own defaults apply
    unset: dict[str, str | None] = {
        "NENTANG_DATABASE_URL": None,
        "NENTANG_MODE": None,
        "NENTANG_LOG_FORMAT": None,
        "NENTANG_LOG_LEVEL": None,
    }

    out = ok(runner.invoke(app, ["demo", "--no-serve"], env=unset))
    assert "national tree seeded: 1 central + 34 provinces + 3321 communes (3356 tenants in all)" in out
    assert "NenTang demo: http://127.0.0.1:8000" in out
    assert "console:      http://127.0.0.1:8000/console/" in out
    assert re.search(r"sign in:      user 'admin', password \S+", out)
    assert "database:     sqlite:///var/nentang.db" in out
    assert (tmp_path / "var" / "nentang.db").is_file()
    assert no_uvicorn == []

    # Every URL the demo prints names a tenant that exists.
    printed = set(re.findall(r"/t/([^/]+)/", out))
    assert {"TW", "01", "00070"} <= printed
    demo = create_kernel(Settings(database_url=f"sqlite:///{tmp_path}/var/nentang.db", secrets_key=TEST_SECRETS_KEY))
    try:
        for code in printed:
            assert demo.tenants.get(code).code == code
        assert demo.tenants.count() == 3356
        assert demo.pending_migrations() == set()
    finally:
        demo.close()

    again = ok(runner.invoke(app, ["demo", "--no-serve"], env=unset))
    assert "national tree already present" in again
    assert "(3356 tenants in all)" in again
