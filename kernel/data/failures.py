"""Database failures a caller can do something about: an outage (retry later) or a lost race (retry now).

Everything else a database raises is a bug or bad data and stays masked as ``internal``. These two
are not: while the database is down every request fails the same way, and the useful answer is
503 with ``Retry-After`` and the code ``unavailable`` — logged once per outage, not as a traceback
per request; two requests that race for one unique key leave one of them with a constraint error
that succeeds when sent again, and the useful answer is ``conflict`` saying so.
"""

from __future__ import annotations

import threading
import time
from typing import Final, final

import structlog
from sqlalchemy import exc as sa_exc

#: Seconds a client is asked to wait after an outage answer.
RETRY_AFTER_SECONDS: Final = 2
UNAVAILABLE: Final = "unavailable"
CONFLICT: Final = "conflict"
UNAVAILABLE_MESSAGE: Final = "the database is unavailable; retry in a few seconds"
CONFLICT_MESSAGE: Final = "a concurrent request changed the same record; send the request again"

#: SQLite's words for a database it cannot reach (a missing or unreadable file, a full disk).
_SQLITE_OUTAGE: Final = ("unable to open database file", "disk i/o error", "database or disk is full")
#: PostgreSQL SQLSTATE classes: 08 connection exception, 57P01-57P03 admin shutdown / cannot connect now.
_PG_OUTAGE_STATES: Final = ("08", "57P01", "57P02", "57P03", "53300")
_UNIQUE_VIOLATION: Final = "23505"


def _sqlstate(error: BaseException) -> str:
    original = getattr(error, "orig", None)
    return str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached (as opposed to refusing a statement)."""
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state and state.startswith(_PG_OUTAGE_STATES):
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        if type(error.orig).__module__.startswith("psycopg"):
            # psycopg gives every error the server reports its SQLSTATE; one without is the
            # connection's own failure (refused, closed, "not currently accepting connections")
            return not state
        text = str(error.orig).lower()
        return any(words in text for words in _SQLITE_OUTAGE)
    return False


def is_lost_race(error: BaseException) -> bool:
    """Whether ``error`` is a unique-key violation, which a concurrent writer causes and a retry clears."""
    if not isinstance(error, sa_exc.IntegrityError):
        return False
    return _sqlstate(error) == _UNIQUE_VIOLATION or "unique constraint failed" in str(error.orig).lower()


@final
class OutageLog:
    """Logs the first failure of an outage, then at most one line per ``every`` seconds with a count."""

    def __init__(self, every: float = 30.0) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def record(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        structlog.get_logger("nentang.data").error(
            "database.unavailable",
            error=f"{type(error).__name__}: {str(error).splitlines()[0][:300]}",
            failures_since_last_line=suppressed,
        )


__all__ = [
    "CONFLICT",
    "CONFLICT_MESSAGE",
    "RETRY_AFTER_SECONDS",
    "UNAVAILABLE",
    "UNAVAILABLE_MESSAGE",
    "OutageLog",
    "is_lost_race",
    "is_outage",
]
