"""Schema artefacts: the committed kernel SDL matches the code, and ``nentang graphql schema`` prints
the SDL of the kernel with any set of installed plugins — and says why a plugin was left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from nentang.kernel.cli.main import app
from nentang.kernel.graphql.build import kernel_sdl
from nentang.kernel.settings import Settings
from tests.graphql_fixtures import NOTES_CODE, NOTES_PERMISSIONS, POLLS_CODE, SLOPPY_CODE
from tests.plugin_factory import PluginFactory

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "graphql" / "kernel.graphql"
REGENERATE = ".venv/bin/nentang graphql schema > docs/graphql/kernel.graphql"

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """A command configures logging onto the runner's stderr; put the configuration back."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


def test_the_committed_kernel_sdl_matches_the_code() -> None:
    assert kernel_sdl() == COMMITTED.read_text(encoding="utf-8"), (
        f"docs/graphql/kernel.graphql differs from the kernel schema in the code; regenerate it with "
        f"`{REGENERATE}`, review the difference (clients depend on it) and commit it"
    )


def test_the_command_prints_the_kernel_sdl_without_touching_a_database() -> None:
    result = runner.invoke(app, ["graphql", "schema"], env={"NENTANG_DATABASE_URL": "postgresql+psycopg://nowhere/x"})
    assert result.exit_code == 0 and result.stdout == COMMITTED.read_text(encoding="utf-8")


@pytest.fixture
def installed(plugin_factory: PluginFactory, settings: Settings) -> dict[str, str]:
    plugin_factory.make("notes", NOTES_CODE, **NOTES_PERMISSIONS)
    plugin_factory.make("polls", POLLS_CODE)
    plugin_factory.make("sloppy", SLOPPY_CODE)
    return {
        "NENTANG_DATABASE_URL": settings.database_url,
        "NENTANG_MODE": "development",
        "NENTANG_LOG_FORMAT": "console",
        "NENTANG_LOG_LEVEL": "ERROR",
    }


def test_the_command_prints_the_sdl_of_the_kernel_with_given_plugins(installed: dict[str, str]) -> None:
    result = runner.invoke(app, ["graphql", "schema", "--plugins", "notes, polls"], env=installed)
    assert result.exit_code == 0, result.output
    sdl = result.stdout
    assert "notes_list(first: Int!): NotesPage!" in sdl and "polls_openCount: Int!" in sdl
    assert "type NotesNote {" in sdl and "notes_add(body: String!, refuse: Boolean! = false): NotesNote!" in sdl
    assert "tenants(first: Int!" in sdl  # and the kernel's
    only_notes = runner.invoke(app, ["graphql", "schema", "-p", "notes"], env=installed).stdout
    assert "notes_list" in only_notes and "polls_" not in only_notes


def test_the_command_names_a_plugin_left_out_and_an_unknown_one(installed: dict[str, str]) -> None:
    sloppy = runner.invoke(app, ["graphql", "schema", "--plugins", "sloppy,notes"], env=installed)
    assert sloppy.exit_code == 1
    assert "notes_list" in sloppy.stdout
    assert "sloppy_all" not in sloppy.stdout and "type Item " not in sloppy.stdout
    assert "error [graphql.plugin_left_out]: plugin 'sloppy': top-level field Query.items" in sloppy.stderr
    unknown = runner.invoke(app, ["graphql", "schema", "--plugins", "nosuch"], env=installed)
    assert unknown.exit_code == 1 and "error [plugin.not_installed]" in unknown.stderr and "nosuch" in unknown.stderr
