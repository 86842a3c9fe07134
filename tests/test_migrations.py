"""Migrations: any database reaches head with one call; plugin branches apply beside the kernel's."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import inspect

from nentang.kernel.data import migrate
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from tests.conftest import NOTES_MIGRATIONS, ON_POSTGRES, make_settings


def test_an_empty_database_reaches_head_and_a_second_upgrade_is_a_no_op(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/fresh.db")
    kernel = create_kernel(settings)
    try:
        assert not kernel.readiness().ready
        assert "pending" in kernel.readiness().detail
        heads = kernel.upgrade_database()
        # n0001 depends on k0001, so it stands for it; installed plugins (plugins/**) add their branches' heads
        assert {"k0009", "n0001"} <= heads and heads == migrate.script_heads(settings)
        assert kernel.pending_migrations() == set()
        assert kernel.readiness().detail == "kernel not started"
        kernel.start()
        assert kernel.readiness().ready
        assert kernel.upgrade_database() == heads
        tables = set(inspect(kernel.db.owner_engine).get_table_names())
        assert {"kernel_tenant", "kernel_audit", "kernel_audit_head", "testnotes_note"} <= tables
    finally:
        kernel.close()


def test_without_the_plugin_branch_only_the_kernel_is_expected(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/kernel-only.db")
    kernel_and_installed = migrate.script_heads(settings)  # the kernel's, and those of installed plugins
    assert "k0009" in kernel_and_installed and "n0001" not in kernel_and_installed
    assert migrate.script_heads(make_settings(settings.database_url)) == kernel_and_installed | {"n0001"}
    assert NOTES_MIGRATIONS in migrate.version_locations(make_settings(settings.database_url))


def test_the_suite_database_is_at_head(kernel: Kernel) -> None:
    readiness = kernel.readiness()
    assert readiness.ready, readiness.detail
    assert kernel.db.dialect == ("postgresql" if ON_POSTGRES else "sqlite")


def test_a_plugin_whose_migrations_cannot_be_found_does_not_stop_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    info = site / "nentang_ghost-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nentang-ghost\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[nentang.migrations]\nghost = nentang_ghost.migrations\n")
    monkeypatch.syspath_prepend(str(site))
    assert "ghost" in {ep.name for ep in entry_points(group=migrate.ENTRY_POINT_GROUP)}  # it is seen...
    assert not any("ghost" in location for location in migrate.plugin_version_locations())  # ...and left out
    kernel = create_kernel(make_settings(f"sqlite:///{tmp_path}/k.db"))
    try:
        kernel.upgrade_database()
        assert not kernel.pending_migrations()
    finally:
        kernel.close()
