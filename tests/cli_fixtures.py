"""Driving ``nentang`` in process (typer's CliRunner) against the test database, and reading what it
prints: how a command must succeed (:func:`ok`) or fail (:func:`failed`), and, for ``nentang
plugin``, the ``cli``, ``registry`` and ``alpha`` fixtures (registered in ``conftest.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.cli.main import app
from nentang.kernel.runtime import Kernel
from tests.conftest import TEST_SECRETS_KEY, Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, SETTINGS_SCHEMA

ERROR_LINE = re.compile(r"^error \[(?P<code>[a-z_.]+)\]: (?P<message>.+)$")
SECRET = "s3cret-value"

runner = CliRunner()


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The command configures logging onto the runner's output, which is closed afterwards."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "registry.toml"


Cli = Callable[..., Result]


@pytest.fixture
def cli(database_url: str, registry: Path) -> Cli:
    """``cli("list", "--tenant", "01", mode="production")``: the command, on the test database."""

    def run(*args: str, mode: str = "development", input: str | None = None) -> Result:
        env = {
            "NENTANG_DATABASE_URL": database_url,
            "NENTANG_MODE": mode,
            "NENTANG_SECRETS_KEY": TEST_SECRETS_KEY if mode == "production" else None,
            "NENTANG_REGISTRY": str(registry),
            "NENTANG_LOG_FORMAT": "console",
            "NENTANG_LOG_LEVEL": None,
        }
        saved = structlog.get_config()  # the command logs onto the runner's stderr, closed afterwards
        try:
            return runner.invoke(app, ["plugin", *args], env=env, input=input)
        finally:
            structlog.configure(**saved)

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result: Result, code: str) -> str:
    """Exit 1 with one ``error [code]: message`` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    match = ERROR_LINE.match(lines[0])
    assert match, lines[0]
    assert match["code"] == code, lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return match["message"]


def rows(output: str) -> dict[str, list[str]]:
    """The table lines of ``plugin list`` by plugin name (detail lines are indented and skipped)."""
    return {line.split()[0]: line.split() for line in output.splitlines() if line and not line.startswith(" ")}


def details(output: str, name: str) -> list[str]:
    """The indented detail lines under one plugin's row."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() and line.split()[0] == name)
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


def state(kernel: Kernel, tree: Tree) -> tuple[object, ...]:
    """Every activation as the kernel reads it, and the audit total: what a refused command must not change."""
    kernel.plugins.scan()
    activations = [
        (v.plugin, v.tenant, v.enabled, dict(v.settings), v.locked_by, v.quarantined)
        for t in (tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3)
        for v in kernel.plugins.activation.list(t.code)
    ]
    reports = verify_chains(kernel.db, kernel.tenants.codes_by_id())
    assert all(r.ok for r in reports), reports
    return activations, sum(r.checked for r in reports)


@pytest.fixture
def alpha(plugin_factory: PluginFactory, tree: Tree) -> str:
    plugin_factory.make("alpha", RECORDING_CODE, settings_schema=SETTINGS_SCHEMA)
    return "alpha"
