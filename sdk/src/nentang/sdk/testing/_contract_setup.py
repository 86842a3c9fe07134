"""The contract suite's first steps: migrate an empty database (learning which tables the plugin's
own branch adds, and checking that branch), then see whether the kernel loads the plugin."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nentang.kernel.settings import Settings
    from nentang.sdk.testing._running import RunningKernel
    from nentang.sdk.testing._source import PluginSource
    from nentang.sdk.testing.contract import Collector


def migrate_empty_database(source: PluginSource, settings: Settings, collect: Collector) -> set[str] | None:
    """Apply every branch to the empty database; returns the tables the plugin's branch created."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect

    from nentang.kernel.data import migrate

    importlib.invalidate_caches()
    engine = create_engine(settings.database_url)
    try:
        try:
            locations = migrate.version_locations(settings)
        except Exception as exc:
            collect.add("migrations", "contract.migration_failed", "nentang.migrations", f"{type(exc).__name__}: {exc}")
            collect.done("migrations")
            return None
        package = source.package_dir.resolve()
        own = [loc for loc in locations if Path(loc).resolve().is_relative_to(package)]
        before: set[str] | None = None
        if own:
            try:
                config = migrate.alembic_config(settings, [loc for loc in locations if loc not in own])
                with engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "heads")
                before = set(inspect(engine).get_table_names())
            except Exception:  # another installed plugin's branch builds on this one: fall back to names
                before = None
        try:
            migrate.upgrade(engine, settings)
        except Exception as exc:
            where = ", ".join(own) or "migrations"
            collect.add("migrations", "contract.migration_failed", where, f"{type(exc).__name__}: {exc}"[:800])
            collect.done("migrations")
            return None
        after = set(inspect(engine).get_table_names())
        tables = (after - before) if before is not None else {t for t in after if t.startswith(f"{source.name}_")}
        if own:
            _check_branch(source, ScriptDirectory.from_config(migrate.alembic_config(settings)), own, collect)
        elif source.migrations:
            collect.add(
                "migrations",
                "contract.migration_failed",
                f"entry point {source.migrations}",
                "the nentang.migrations entry point names no folder inside the plugin's package",
            )
        detail = f"{len(own)} folder(s), tables: {', '.join(sorted(tables)) or 'none'}" if own else "no migrations"
        collect.done("migrations", detail)
        return tables
    finally:
        engine.dispose()


def _check_branch(source: PluginSource, script: Any, own: list[str], collect: Collector) -> None:
    folders = [Path(loc).resolve() for loc in own]
    mine = [rev for rev in script.walk_revisions() if any(Path(rev.path).resolve().parent == f for f in folders)]
    for rev in mine:
        if rev.down_revision is not None:
            continue
        where = Path(rev.path).name
        if source.name not in (rev.branch_labels or ()):
            collect.add(
                "migrations",
                "contract.migration_branch",
                where,
                f"the first revision of the plugin's branch sets branch_labels = ({source.name!r},)",
            )
        if not rev.dependencies:
            collect.add(
                "migrations",
                "contract.migration_branch",
                where,
                'the first revision of the plugin\'s branch sets depends_on = "kernel" (it needs the tenant table)',
            )


def loaded(source: PluginSource, running: RunningKernel, collect: Collector) -> bool:
    host = running.raw.plugins.host
    if source.name in host.plugins:
        collect.done("load", f"registered {source.name} {host.plugins[source.name].version}")
        return True
    quarantined = host.quarantined.get(source.name)
    if quarantined is None:
        collect.add("load", "contract.not_discovered", source.name, "the kernel's discovery did not find the plugin")
    else:
        details = "; ".join(str(f) for f in quarantined.findings)
        collect.add(
            "load", "contract.quarantined", source.name, quarantined.reason + (f": {details}" if details else "")
        )
    collect.done("load")
    collect.skip_rest("the kernel did not load the plugin")
    return False


__all__ = ["loaded", "migrate_empty_database"]
