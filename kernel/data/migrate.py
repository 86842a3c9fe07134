"""Alembic migrations: the kernel's own history plus one branch per plugin.

Plugins announce their branch with an entry point in the group ``nentang.migrations`` whose
value names the package holding their version files (e.g. ``forms = "nentang_forms.migrations"``);
each plugin's first revision sets ``branch_labels = ("<plugin>",)`` and ``depends_on = "kernel"``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from nentang.kernel.data.migration_checks import check_prerequisites
from nentang.kernel.settings import Settings
from nentang.sdk.errors import NentangError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ENTRY_POINT_GROUP = "nentang.migrations"


def plugin_version_locations() -> list[str]:
    """Version folders of installed plugins, found through their entry points.

    A plugin whose migrations cannot be located (a broken or half-installed package) is left
    out and logged: like any broken plugin it must not stop a worker from starting. Its
    tables simply do not exist, and readiness does not count a branch it cannot see.
    """
    locations = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = importlib.util.find_spec(ep.value)  # imports the parent package: may raise anything
        except Exception as exc:
            spec, problem = None, f"{type(exc).__name__}: {exc}"
        else:
            problem = "package not found"
        if spec is None or not spec.submodule_search_locations:
            structlog.get_logger("nentang.migrations").error(
                "migrations.plugin_branch_unavailable", plugin=ep.name, package=ep.value, problem=problem
            )
            continue
        locations.extend(spec.submodule_search_locations)
    return locations


def version_locations(settings: Settings) -> list[str]:
    return [str(MIGRATIONS_DIR / "versions"), *plugin_version_locations(), *settings.extra_migration_locations]


def alembic_config(settings: Settings, locations: Iterable[str] | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "newline")
    paths = list(locations) if locations is not None else version_locations(settings)
    config.set_main_option("version_locations", "\n".join(paths))
    config.attributes["app_role"] = settings.app_role
    return config


def upgrade(engine: Engine, settings: Settings, target: str = "heads") -> set[str]:
    """Bring the database to ``target`` (all heads by default); returns the heads now applied.

    All pending migrations and their version stamps run in one transaction (``env.py``), so a
    migration that fails half-way leaves the database, and ``alembic_version``, as they were:
    DDL is transactional on PostgreSQL and on SQLite (whose ``BEGIN`` the engine issues itself,
    so pysqlite does not commit around DDL). The prerequisites are checked first
    (``migration_checks.py``) so that a missing right is refused before anything runs.
    """
    config = alembic_config(settings)
    before = applied_heads(engine)
    with engine.begin() as connection:
        check_prerequisites(connection, settings, base_pending=not before)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    except DBAPIError as exc:
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise NentangError(
            f"a migration failed and was rolled back, so the database is still at "
            f"{', '.join(sorted(before)) or 'no revision'}: {first_line}. Fix the cause (for example a "
            "table left from an earlier installation) and run the upgrade again",
            code="db.migration_failed",
        ) from exc
    return applied_heads(engine)


def script_heads(settings: Settings) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


def scripts(settings: Settings) -> ScriptDirectory:
    """The migration scripts of the kernel and every plugin branch (parsed once; reuse it)."""
    return ScriptDirectory.from_config(alembic_config(settings))


def pending_heads(engine: Engine, script: ScriptDirectory) -> set[str]:
    """Heads of the migration scripts not yet applied to the database.

    Alembic records only the tips of what it applied: a plugin revision that depends on the
    kernel's stands for both. So a head counts as applied when an applied revision reaches it
    through down-revisions or dependencies.
    """
    covered: set[str] = set()
    pending = list(applied_heads(engine))
    while pending:
        revision = script.get_revision(pending.pop())
        if revision is None or revision.revision in covered:
            continue
        covered.add(revision.revision)
        pending.extend(_as_tuple(revision.down_revision))
        pending.extend(_as_tuple(revision.dependencies))
    return set(script.get_heads()) - covered


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def applied_heads(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())
