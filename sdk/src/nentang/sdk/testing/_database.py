"""Throwaway databases for the kit: migrated once per session, handed out empty to every test.

SQLite (the default): one template file per set of migration branches, migrated once and copied
for each test — a copy is cheaper than emptying. PostgreSQL (``NENTANG_DATABASE_URL`` names a
server): one database of its own per set of migration branches, created next to the named one,
migrated once, emptied with ``TRUNCATE`` before each test, dropped at the end of the session.

A "set of migration branches" is the kernel's history plus every installed plugin's
(``nentang.migrations`` entry points) plus any extra location in the settings, so a plugin
installed while the session runs gets a template of its own instead of a stale one.
"""

from __future__ import annotations

import importlib
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

if TYPE_CHECKING:
    from nentang.kernel.settings import Settings

#: The cheapest password hashing argon2id accepts: the kit's kernels sign users in quickly.
FAST_HASHING: Final = {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 1}


def kit_settings(database_url: str, workdir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """The settings of a kit kernel: development mode, a registry of its own, cheap hashing,
    events delivered when the test asks (``nentang_kernel.deliver_events()``)."""
    from nentang.kernel.identity.config import IdentitySettings
    from nentang.kernel.identity.passwords import HashParameters
    from nentang.kernel.settings import Settings

    base = Settings(
        database_url=database_url,
        mode="development",
        log_json=True,
        log_level="WARNING",
        registry_path=workdir / "registry.toml",
        identity=IdentitySettings(password_hashing=HashParameters(**FAST_HASHING)),
        events_background=False,
    )
    return base.with_overrides(**(overrides or {}))


def migration_key(settings: Settings) -> tuple[str, ...]:
    """Which migration branches a database for ``settings`` must hold (plugins installed now)."""
    from nentang.kernel.data import migrate

    importlib.invalidate_caches()
    return tuple(migrate.version_locations(settings))


@final
class Databases:
    """The session's migrated databases, by set of migration branches."""

    def __init__(self, workdir: Path, postgres_url: str | None) -> None:
        self._workdir = workdir
        self._postgres_url = postgres_url or None
        self._templates: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    @property
    def on_postgres(self) -> bool:
        return self._postgres_url is not None

    def fresh(self, settings: Settings, target_dir: Path) -> str:
        """The URL of a migrated, empty database for one test."""
        key = migration_key(settings)
        with self._lock:
            template = self._templates.get(key)
            if template is None:
                template = self._create(settings)
                self._templates[key] = template
                if self.on_postgres:
                    return template  # just migrated: empty already
        if self.on_postgres:
            empty_postgres(template)
            return template
        target = target_dir / f"nentang-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"

    def _create(self, settings: Settings) -> str:
        from sqlalchemy import create_engine

        from nentang.kernel.data import migrate

        if self._postgres_url is not None:
            url = create_postgres_database(self._postgres_url, "nentang_kit")
            target = url
        else:
            path = self._workdir / f"template-{len(self._templates)}.db"
            url, target = f"sqlite:///{path}", str(path)
        engine = create_engine(url)
        try:
            migrate.upgrade(engine, settings.with_overrides(database_url=url))
        finally:
            engine.dispose()
        return target

    def close(self) -> None:
        """Drop the PostgreSQL databases of the session (SQLite files go with pytest's tmp dirs)."""
        if self._postgres_url is not None:
            for url in self._templates.values():
                drop_postgres_database(self._postgres_url, url)
        self._templates.clear()


def create_postgres_database(server_url: str, prefix: str) -> str:
    """Create an empty database next to ``server_url``'s; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty_postgres(url: str) -> None:
    """Empty every table but Alembic's (the schema stays migrated)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            tables = connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            ).all()
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


__all__ = ["Databases", "kit_settings", "migration_key"]
