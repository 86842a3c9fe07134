"""Reading sessions for work that runs to completion on the calling thread (the event loop's).

On the embedded SQLite database a GraphQL query's plugin work runs inline on the event loop
(``PluginRequest.run``): a deferred snapshot read never waits for a writer, and the hop to a
worker thread cost more than the read. What remained per read was the pool: checking a
connection out, wrapping it, resetting and returning it cost about a tenth of a small query.

Inline work never yields: it starts, reads and ends before the loop runs anything else. So one
thread needs only one connection, kept open and lent to one session at a time. Each session
still begins and ends its own transaction on it (a fresh snapshot per read; nothing held between
requests), and keeps every guard of the session factory (tenant scope, deferred ``BEGIN``).

A query's work may still write (an access log, say). Waiting for the write lock on the event
loop would stall every request of the worker, so a kept connection never waits (busy timeout
0): the write fails at once with "database is locked", :func:`is_busy` recognises it, and the
caller runs the work again in a worker thread, where waiting is harmless. Nothing of the first
attempt remains: its transaction was rolled back.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Final, final

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nentang.kernel.data.scope import DataScope, bind_scope
from nentang.kernel.data.sqlite_begin import SESSION_BEGINS, reading_only
from nentang.kernel.plugins.running import on_behalf_of_plugin

#: SQLite's primary result code for "another connection holds the lock" (extended codes add high bits).
_SQLITE_BUSY: Final = 5


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is SQLite refusing at once because another connection holds the lock."""
    original = error.orig if isinstance(error, OperationalError) else error
    return isinstance(original, sqlite3.OperationalError) and (original.sqlite_errorcode & 0xFF) == _SQLITE_BUSY


@final
class InlineReads:
    """One kept connection per thread, for :meth:`tenant` sessions that read and end at once."""

    __slots__ = ("_engine", "_kept", "_local", "_lock", "_sessions")

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._engine = engine
        self._sessions = sessions
        self._local = threading.local()
        self._lock = threading.Lock()
        self._kept: list[Connection] = []  # every thread's, so that close() reaches them all

    def tenant(self, tenant_id: int) -> Session:
        """A reading-only session for one tenant on this thread's kept connection.

        Use it only for work that ends before this thread runs anything else: the connection is
        lent to one session at a time, and a second session opened while the first is still in
        its transaction would share it.
        """
        session = self._sessions(bind=self._connection())
        bind_scope(session, DataScope.tenant(tenant_id))
        return reading_only(session)

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is not None and not connection.closed and not connection.invalidated:
            if connection.in_transaction():  # a session that failed to end its own: never join it
                connection.rollback()
            return connection
        # the kernel's set-up, even when a plugin's resolver asked for the first read of the thread:
        # the plugin guard and SQLite's authorizer refuse a PRAGMA to the plugin's code
        with on_behalf_of_plugin():
            connection = self._engine.connect().execution_options(**{SESSION_BEGINS: True})
            connection.exec_driver_sql("PRAGMA busy_timeout = 0")  # never wait on the loop: see is_busy
            connection.commit()
        self._local.connection = connection
        with self._lock:
            self._kept = [c for c in self._kept if not c.closed]
            self._kept.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, []
        for connection in kept:
            # Not back to the pool: it would hand out a connection that never waits for a lock.
            connection.invalidate()
            connection.close()
