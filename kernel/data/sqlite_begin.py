"""SQLite: how a session's transaction begins, so that concurrent writes wait instead of failing.

In WAL mode a deferred transaction reads a snapshot; its first write must then take the write
lock, and if another connection committed after the snapshot was taken, SQLite refuses at once
with "database is locked" — the busy timeout cannot help, because waiting would not make the
snapshot current. Every kernel write reads first (the delegation facts, the audit chain's head, a
token before recording its use), so two concurrent writes on the embedded database could fail so.

Hence, on SQLite only:

- an **explicit** transaction (``with session.begin():``, the way every write is made) begins
  ``IMMEDIATE``: it takes the write lock before its first read and waits its turn (the busy
  timeout) rather than failing half-way;
- a session marked :func:`reading_only` (a GraphQL query's plugin resolvers), and the implicit
  transaction of a plain read, begin ``DEFERRED`` and never wait for writers (WAL).

Connections outside sessions (migrations, Core readers) keep the engine's plain ``BEGIN``.
PostgreSQL needs none of this: its row locks and MVCC make concurrent writers wait by themselves.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransactionOrigin

from nentang.kernel.plugins.running import on_behalf_of_plugin

#: Execution option on the engine sessions are bound to: the session, not the engine, says BEGIN.
SESSION_BEGINS: Final = "nentang_session_begins"
_READING_ONLY: Final = "nentang.reading_only"
_BEGIN: Final = "BEGIN"
_BEGIN_IMMEDIATE: Final = "BEGIN IMMEDIATE"


def session_engine(engine: Engine) -> Engine:
    """The engine sessions use: the same pool, flagged so the engine's own ``BEGIN`` steps aside."""
    return engine.execution_options(**{SESSION_BEGINS: True})


def reading_only(session: Session) -> Session:
    """Mark ``session`` as one that only reads: its transactions begin deferred, even explicit ones.
    (A write it makes anyway still works, but may meet "database is locked" under concurrency.)"""
    session.info[_READING_ONLY] = True
    return session


def begin(session: Session, transaction: Any, connection: Any) -> None:
    """Start the session's transaction on ``connection`` (the ``after_begin`` of a SQLite session)."""
    explicit = transaction.origin is SessionTransactionOrigin.BEGIN
    immediate = explicit and not session.info.get(_READING_ONLY)
    # Straight to the driver: through exec_driver_sql it was a statement execution of its own
    # (context, events, result) on every read's path, for a word SQLite answers without a table.
    # Nothing of the plugin's runs here, and the authorizer allows transaction control to anyone.
    dbapi = connection.connection.dbapi_connection
    if dbapi is None:  # no driver connection (invalidated): the ordinary way, which reports why
        with on_behalf_of_plugin():
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        return
    statement = _BEGIN_IMMEDIATE if immediate else _BEGIN
    try:
        dbapi.execute(statement).close()
    except sqlite3.Error as exc:  # as SQLAlchemy would raise it ("database is locked": OperationalError)
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
