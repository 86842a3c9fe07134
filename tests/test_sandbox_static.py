"""The review's static stage and the capability allowances, on small sources (no build, no sandbox).

The hostile corpus of the plugin policy itself is in ``test_plugin_policy.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nentang.sandbox.capabilities import allowance
from nentang.sandbox.isolation import Limits, plan
from nentang.sandbox.static import check_package, permission_usage


def codes(tmp_path: Path, source: str, capabilities: tuple[str, ...] = (), name: str = "plugin.py") -> set[str]:
    package = tmp_path / "nentang_x"
    (package / name).parent.mkdir(parents=True, exist_ok=True)
    (package / name).write_text(textwrap.dedent(source))
    return {f.code for f in check_package(package, allowance(capabilities)) if f.severity == "error"}


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("import subprocess\n", "static.process"),
        ("from socket import create_connection\n", "static.network"),
        ("import ctypes.util\n", "static.native_code"),
        ("import os as o\no.system('id')\n", "static.file_access"),
        ("from os import execv\nexecv('/bin/sh', [])\n", "static.file_access"),
        ("eval('1 + 1')\n", "static.dynamic_code"),
        ("x = __import__('sub' + 'process')\n", "static.name_from_string"),
        ("import os\nsecret = os.environ['NENTANG_DATABASE_URL']\n", "static.env_read"),
        ("from os import getenv\ngetenv('HOME')\n", "static.env_read"),
        ("import os\nkeys = dict(os.environ)\n", "static.env_read"),
        ("from sqlalchemy import text\nq = text('SELECT 1')\n", "static.raw_sql"),
        ("def f(conn):\n    conn.exec_driver_sql('PRAGMA x')\n", "static.raw_sql"),
        ("def f(s):\n    return s.connection().connection.cursor()\n", "static.raw_connection"),
        ("QUERY = 'SELECT body FROM notes WHERE tenant_id = 2'\n", "static.raw_sql"),
        ("import httpx\n", "static.network_import"),
        ("from nentang.kernel.data.database import Database\n", "static.kernel_import"),
        ("import sys\nm = sys.modules\n", "static.reflection"),
        ("x = ().__class__.__base__.__subclasses__()\n", "static.dunder_access"),
    ],
)
def test_denied_uses_are_found_with_their_line(tmp_path: Path, source: str, code: str) -> None:
    found = codes(tmp_path, source)
    assert code in found, found


def test_clean_plugin_code_has_no_findings(tmp_path: Path) -> None:
    source = '''
    """A docstring that mentions SELECT x FROM y is prose, not SQL."""
    import importlib.metadata
    from http import HTTPStatus
    from urllib.parse import quote

    from sqlmodel import select

    from nentang.sdk import hookimpl


    @hookimpl
    def nentang_plugin_enable(ctx, settings):
        ctx.session.exec(select(1))
        return quote("a b"), HTTPStatus.OK, importlib.metadata.version("nentang-sdk")
    '''
    assert codes(tmp_path, source) == set()


def test_capabilities_allow_exactly_what_they_name(tmp_path: Path) -> None:
    network = "import httpx\n"
    assert "static.network_import" not in codes(tmp_path, network, ("http:outbound:lgsp.example.vn",))
    env = "import os\nkey = os.environ.get('FORMS_API_KEY')\nother = os.getenv('NENTANG_SECRET_KEY')\n"
    package = tmp_path / "nentang_x"
    codes(tmp_path, env, ("env:FORMS_API_KEY",))
    findings = check_package(package, allowance(("env:FORMS_API_KEY",)))
    assert [f.location for f in findings if f.code == "static.env_read"] == ["nentang_x/plugin.py:3"]
    allowed = allowance(("http:outbound:*.example.vn", "env:TOKEN", "files:everything"))
    assert allowed.allows_host("lgsp.example.vn") and not allowed.allows_host("example.vn.evil.org")
    assert allowed.allows_env("TOKEN") and not allowed.allows_env("HOME")
    assert allowed.unknown == ("files:everything",)


def test_sql_in_migrations_is_a_warning_for_the_reviewer(tmp_path: Path) -> None:
    migration = "from alembic import op\nop.execute('CREATE TABLE x_t (tenant_id int)')\n"
    assert codes(tmp_path, migration, name="migrations/x0001.py") == set()
    warnings = check_package(tmp_path / "nentang_x", allowance(()))
    assert {f.code for f in warnings} == {"static.migration_sql"}


def test_permissions_checked_must_be_declared(tmp_path: Path) -> None:
    package = tmp_path / "nentang_x"
    package.mkdir()
    (package / "plugin.py").write_text(
        "def f(ctx):\n    ctx.require_permission('x.approve')\n    return ctx.has_permission('kernel.plugins.manage')\n"
    )
    manifest = {"permissions": [{"name": "x.read", "description": "Read"}]}
    found = {(f.code, f.severity) for f in permission_usage(package, manifest)}
    assert found == {("contract.permission_undeclared", "error"), ("contract.permission_unused", "warning")}


def test_without_bubblewrap_the_plan_says_what_is_missing(tmp_path: Path) -> None:
    sandbox = plan(work=tmp_path, scratch=tmp_path, out=tmp_path, bwrap=None, unshare=None, limits=Limits())
    assert {f.code for f in sandbox.findings} >= {"sandbox.no_bubblewrap", "sandbox.no_network_namespace"}
    assert all(f.severity == "error" for f in sandbox.findings if f.code.startswith("sandbox.no_"))
    assert any("NO isolation" in line for line in sandbox.description)


TRACED = """
import json, sys, threading
from pathlib import Path
from nentang.sandbox.trace import Tracer

package, scratch = Path(sys.argv[1]), Path(sys.argv[2])
log = open(scratch / "trace.jsonl", "w")
tracer = Tracer(
    package_dir=package, trusted_dirs=[], scratch=scratch, readable=[Path(p) for p in sys.path if p],
    denied_modules=["subprocess", "socket"], allows_host=lambda host: host == "lgsp.example.vn",
    allows_env=lambda name: name == "FORMS_KEY", allows_module=lambda module: False, log=log,
)
tracer.install()
sys.path.insert(0, str(package.parent))
import nentang_t.plugin
nentang_t.plugin.run(scratch)
print(json.dumps(sorted({(e["code"], e["location"]) for e in tracer.events})))
"""

PLUGIN = """
import os, threading
def run(scratch):
    (scratch / "ok.txt").write_text("scratch is fine")
    os.environ.get("FORMS_KEY")
    os.getenv("NENTANG_SECRET_KEY")
    threading.Thread(target=lambda: None).start()
    eval("1 + 1")
    __import__("sub" + "process")
    try:
        open("/proc/version").read()
    except OSError:
        pass
"""


def test_the_trace_names_what_the_plugins_own_code_touched(tmp_path: Path) -> None:
    package = tmp_path / "site" / "nentang_t"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", TRACED, str(package), str(scratch)], capture_output=True, text=True, check=True
    )
    events = {tuple(e) for e in json.loads(done.stdout.splitlines()[-1])}
    assert events == {
        ("trace.env_read", "plugin.py:6"),
        ("trace.thread", "plugin.py:7"),
        ("trace.dynamic_code", "plugin.py:8"),
        ("trace.forbidden_import", "plugin.py:9"),
        ("trace.file_read", "plugin.py:11"),
    }
