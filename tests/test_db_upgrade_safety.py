"""``nentang db upgrade`` refuses before migrating when a prerequisite is missing, and a migration
that fails half-way leaves the database where it was, so ``db current`` never calls it up to date
(#13 item 8). On a database of their own: SQLite always, PostgreSQL when the suite runs on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from nentang.kernel.cli.main import app
from nentang.kernel.data import migrate
from nentang.kernel.data.engines import create_owner_engine
from tests.cli_fixtures import failed, ok
from tests.conftest import ON_POSTGRES, POSTGRES_URL, make_settings

runner = CliRunner()
needs_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL roles: NENTANG_DATABASE_URL is SQLite")


def _db(url: str, *args: str, app_role: str | None = None) -> Result:
    env = {"NENTANG_DATABASE_URL": url, "NENTANG_MODE": "development", "NENTANG_LOG_FORMAT": "console"}
    if app_role:
        env["NENTANG_APP_ROLE"] = app_role
    saved = structlog.get_config()
    try:
        return runner.invoke(app, ["db", *args], env=env)
    finally:
        structlog.configure(**saved)


def _schema(engine: Engine) -> dict[str, set[str]]:
    """Every table with its indexes: what a failed upgrade must leave exactly as it found."""
    found = inspect(engine)
    return {table: {ix["name"] or "" for ix in found.get_indexes(table)} for table in found.get_table_names()}


@pytest.fixture
def admin_engine() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def empty_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database when the suite runs there."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    admin: Engine = request.getfixturevalue("admin_engine")
    name = f"nentang_upg_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_migration_failing_half_way_leaves_the_revision_and_the_schema_as_they_were(empty_url: str) -> None:
    engine = create_owner_engine(empty_url)
    try:
        migrate.upgrade(engine, make_settings(empty_url), target="k0005")
        with engine.begin() as conn:  # left over from an earlier install: k0009 cannot create its table
            conn.execute(text("CREATE TABLE kernel_sequence (leftover INTEGER)"))
        before = _schema(engine)
        message = failed(_db(empty_url, "upgrade"), "db.migration_failed")
        assert "still at k0005" in message and "kernel_sequence" in message
        # k0006..k0008 ran before k0009 failed: their indexes and their version stamps went back with it
        assert _schema(engine) == before and "ix_kernel_audit_at" not in before["kernel_audit"]
        assert migrate.applied_heads(engine) == {"k0005"}
        current = ok(_db(empty_url, "current"))
        assert current.splitlines()[0] == "applied: k0005"
        assert "up to date" not in current and "pending: " in current
    finally:
        engine.dispose()


def test_once_the_cause_is_removed_the_same_upgrade_completes(empty_url: str) -> None:
    engine = create_owner_engine(empty_url)
    try:
        with engine.begin() as conn:  # conflicts with the kernel's very first table
            conn.execute(text("CREATE TABLE kernel_audit (leftover INTEGER)"))
        assert "still at no revision" in failed(_db(empty_url, "upgrade"), "db.migration_failed")
        assert set(_schema(engine)) == {"kernel_audit"}  # kernel_tenant, made just before, was rolled back
        assert "pending: " in ok(_db(empty_url, "current"))
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE kernel_audit"))
        ok(_db(empty_url, "upgrade"))
        assert ok(_db(empty_url, "current")).splitlines()[-1] == "up to date"
    finally:
        engine.dispose()


@pytest.fixture
def limited_owner(admin_engine: Engine, empty_url: str) -> Iterator[tuple[str, str, str]]:
    """A migration user without CREATEROLE that owns the empty database (its URL, its name), and
    the name of an app role that does not exist yet (dropped afterwards if a test made it)."""
    owner, role = f"upg_owner_{uuid.uuid4().hex[:8]}", f"upg_app_{uuid.uuid4().hex[:8]}"
    database = make_url(empty_url).database
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN NOCREATEROLE'))
        conn.execute(text(f'ALTER DATABASE "{database}" OWNER TO "{owner}"'))
    _execute(empty_url, f'ALTER SCHEMA public OWNER TO "{owner}"')
    try:
        yield make_url(empty_url).set(username=owner).render_as_string(hide_password=False), owner, role
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _nothing_migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        assert _schema(engine) == {}  # not even alembic_version
    finally:
        engine.dispose()
    assert ok(_db(url, "current")).splitlines()[0] == "applied: (none)"


@needs_postgres
def test_upgrade_refuses_when_the_app_role_is_missing_and_cannot_be_created(
    limited_owner: tuple[str, str, str], admin_engine: Engine
) -> None:
    url, owner, role = limited_owner
    message = failed(_db(url, "upgrade", app_role=role), "db.prerequisite_missing")
    assert f"the app role {role!r} (NENTANG_APP_ROLE) does not exist" in message
    assert f'ALTER ROLE "{owner}" CREATEROLE' in message and "WITH ADMIN OPTION" in message
    _nothing_migrated(url)
    with admin_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}) == 0


@needs_postgres
def test_upgrade_refuses_an_existing_app_role_it_cannot_grant_or_that_bypasses_rls(
    limited_owner: tuple[str, str, str], admin_engine: Engine
) -> None:
    url, owner, role = limited_owner
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS'))
    message = failed(_db(url, "upgrade", app_role=role), "db.prerequisite_missing")
    assert f'GRANT "{role}" TO "{owner}" WITH ADMIN OPTION' in message
    _nothing_migrated(url)
    with admin_engine.connect() as conn:
        conn.execute(text(f'ALTER ROLE "{role}" BYPASSRLS'))
    assert "bypasses row-level security" in failed(_db(url, "upgrade", app_role=role), "db.prerequisite_missing")
    _nothing_migrated(url)
    with admin_engine.connect() as conn:  # both fixed: the same command now migrates
        conn.execute(text(f'ALTER ROLE "{role}" NOBYPASSRLS'))
        conn.execute(text(f'GRANT "{role}" TO "{owner}" WITH ADMIN OPTION'))
    ok(_db(url, "upgrade", app_role=role))
    assert ok(_db(url, "current", app_role=role)).splitlines()[-1] == "up to date"


@needs_postgres
def test_upgrade_refuses_a_user_that_cannot_create_tables_in_public(empty_url: str, admin_engine: Engine) -> None:
    user = f"upg_user_{uuid.uuid4().hex[:8]}"
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{user}" LOGIN CREATEROLE'))
    url = make_url(empty_url).set(username=user).render_as_string(hide_password=False)
    try:
        _execute(empty_url, f'REVOKE CREATE ON SCHEMA public FROM PUBLIC, "{user}"')
        message = failed(_db(url, "upgrade"), "db.prerequisite_missing")
        assert f"the migration user {user!r} cannot create tables in schema public" in message
        _nothing_migrated(url)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(empty_url).database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{user}"'))
