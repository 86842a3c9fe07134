"""Engine construction per dialect: SQLite pragmas and transactions, the PostgreSQL app role."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from nentang.kernel.data.sqlite_authorizer import install_sqlite_authorizer
from nentang.kernel.data.sqlite_begin import SESSION_BEGINS
from nentang.kernel.settings import sqlite_path
from nentang.sdk.errors import ValidationFailed

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_owner_engine(database_url: str) -> Engine:
    """The engine that owns the schema: migrations and maintenance (never request handling)."""
    return _create(database_url)


def create_app_engine(database_url: str, app_database_url: str | None, app_role: str) -> Engine:
    """The engine requests use. On PostgreSQL it runs as ``app_role``, which cannot bypass RLS."""
    if app_database_url:
        return _create(app_database_url)
    engine = _create(database_url)
    if engine.dialect.name == "postgresql":
        _switch_role_on_connect(engine, app_role)
    return engine


def _create(database_url: str) -> Engine:
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise ValidationFailed(f"database URL {database_url!r} is not a valid SQLAlchemy URL: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        install_sqlite_authorizer(engine)  # after the PRAGMAs: see sqlite_authorizer.py
        return engine
    if url.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    raise ValidationFailed(
        f"database URL {database_url!r}: NenTang runs on SQLite (embedded) or PostgreSQL (production)"
    )


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions late and never for SELECT; take
    # over so that a session's reads and writes share one real transaction (SQLAlchemy's recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(SESSION_BEGINS):
            return  # a session's connection: the session says how it begins (sqlite_begin.py)
        connection.exec_driver_sql("BEGIN")


def check_role_name(app_role: str) -> None:
    """Refuse a role name that would need quoting rules: it is spliced into SQL (``SET ROLE``, grants)."""
    if not _ROLE_NAME.match(app_role):
        raise ValidationFailed(f"app role {app_role!r} is not a plain lower-case PostgreSQL role name")


def _switch_role_on_connect(engine: Engine, app_role: str) -> None:
    check_role_name(app_role)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET SESSION ROLE "{app_role}"')
        cursor.close()
        dbapi_connection.commit()
