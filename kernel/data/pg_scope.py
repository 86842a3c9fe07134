"""PostgreSQL: the transaction settings row-level security reads (``nentang.read_tenants`` and
``nentang.write_tenant``), sent for a session's scope.

The settings are sent lazily: a scope change only records what the transaction must run under, and
the next statement on the connection -- whatever it is, ORM, Core or text() -- sends it first (one
round trip, and none at all for a change that no statement follows, like the platform scope
restored after a transaction's last audit entry). When that statement is the transaction's first,
the settings go with its ``BEGIN``, in the same round trip (:func:`_begin_with_settings`). The
settings are local to the transaction, so the bookkeeping is dropped when it ends.

The bookkeeping lives here, keyed by the DBAPI connection, not in ``connection.info``: a plugin can
write that dictionary (it reaches it through its session), and what is recorded there would be sent
as the tenants row-level security lets it see. The settings themselves are sent as the kernel's
statement (:func:`~nentang.kernel.plugins.running.on_behalf_of_plugin`); a plugin's own
``set_config`` is refused by the runtime guard.

While a plugin's statement runs, its thread can cancel it (``CANCELS`` in ``running.py``): at the
deadline the watchdog cancels the statement on the server, which no signal to the waiting thread
would reach.
"""

from __future__ import annotations

import re
import weakref
from threading import get_ident
from typing import Any, Final

from psycopg import pq
from psycopg.errors import error_from_result
from sqlalchemy import event

from nentang.kernel.plugins.running import CANCELS, current_call, on_behalf_of_plugin
from nentang.sdk.migrations import READ_SETTING, WRITE_SETTING

_IDLE: Final = pq.TransactionStatus.IDLE
_TUPLES_OK: Final = pq.ExecStatus.TUPLES_OK
_DIGITS: Final = re.compile(r"[0-9,]*")
_SET_SCOPE: Final = (
    f"SELECT set_config('{READ_SETTING}', %(read)s, true), set_config('{WRITE_SETTING}', %(write)s, true)"
)
#: Statements that read no table, and after which a set_config sent just before them could be
#: undone (ROLLBACK TO SAVEPOINT): the settings wait for the next real statement.
_SAVEPOINT_CONTROL: Final = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class _Settings:
    """What a connection's transaction must run under, and what it was last sent."""

    __slots__ = ("sent", "wanted")

    def __init__(self) -> None:
        self.wanted: tuple[str, str] | None = None
        self.sent: tuple[str, str] | None = None


#: DBAPI connection -> its settings (gone with the connection).
_BY_CONNECTION: Final[weakref.WeakKeyDictionary[Any, _Settings]] = weakref.WeakKeyDictionary()


def _dbapi(connection: Any) -> Any:
    try:
        return connection.connection.dbapi_connection
    except Exception:  # an invalidated connection: it has no settings left to forget
        return None


def _settings(connection: Any) -> _Settings:
    dbapi = _dbapi(connection)
    found = _BY_CONNECTION.get(dbapi)
    if found is None:
        found = _BY_CONNECTION[dbapi] = _Settings()
    return found


def want(connection: Any, read: frozenset[int], write: int | None) -> None:
    """The transaction on ``connection`` must see the rows of ``read`` and write those of ``write``."""
    _settings(connection).wanted = (",".join(str(t) for t in sorted(read)), "" if write is None else str(write))


def install(engine: Any) -> None:
    if event.contains(engine, "before_cursor_execute", _send_wanted_settings):
        return
    event.listen(engine, "before_cursor_execute", _send_wanted_settings)
    event.listen(engine, "before_cursor_execute", _cancellable)
    event.listen(engine, "after_cursor_execute", _done)
    event.listen(engine, "handle_error", _done_on_error)
    event.listen(engine, "commit", _forget_transaction_settings)
    event.listen(engine, "rollback", _forget_transaction_settings)
    event.listen(engine, "rollback_savepoint", _resend_settings)
    event.listen(engine.pool, "checkin", _forget_on_checkin)


def _send_wanted_settings(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    found = _BY_CONNECTION.get(_dbapi(connection))
    if found is None:
        return
    wanted = found.wanted
    if wanted is None or found.sent == wanted or statement.startswith(_SAVEPOINT_CONTROL):
        return
    found.sent = wanted  # first: the statement below passes through this listener too
    if _begin_with_settings(_dbapi(connection), wanted):
        return
    with on_behalf_of_plugin():
        connection.exec_driver_sql(_SET_SCOPE, {"read": wanted[0], "write": wanted[1]}).close()


def _begin_with_settings(dbapi: Any, wanted: tuple[str, str]) -> bool:
    """Begin the transaction and send the settings in one round trip, where psycopg would have sent
    its ``BEGIN`` alone first (the statement that follows then finds the transaction open and sends
    none). One simple query, so the values are written into it: they are the kernel's own tenant
    ids, digits and commas only (checked). Whether it was done; if not, the ordinary way follows."""
    pgconn = getattr(dbapi, "pgconn", None)
    begin = getattr(dbapi, "_get_tx_start_command", None)
    if pgconn is None or begin is None or dbapi.autocommit or pgconn.transaction_status != _IDLE:
        return False
    if not all(_DIGITS.fullmatch(value) for value in wanted):
        return False
    sql = b"%s; SELECT set_config('%s', '%s', true), set_config('%s', '%s', true)" % (
        begin(),
        READ_SETTING.encode(),
        wanted[0].encode(),
        WRITE_SETTING.encode(),
        wanted[1].encode(),
    )
    with dbapi.lock:
        result = pgconn.exec_(sql)
    if result.status != _TUPLES_OK:
        raise error_from_result(result, encoding=dbapi.info.encoding)
    return True


def _cancellable(connection: Any, *_args: Any) -> None:
    """A plugin's statement can be cancelled by the watchdog at its deadline (``CANCELS``)."""
    if current_call() is not None:
        dbapi = _dbapi(connection)
        if dbapi is not None:
            CANCELS[get_ident()] = dbapi.cancel_safe


def _done(*_args: Any) -> None:
    if CANCELS:
        CANCELS.pop(get_ident(), None)


def _done_on_error(_context: Any) -> None:
    _done()


def _forget_transaction_settings(connection: Any) -> None:
    """The transaction ends, and its local settings with it; the next one wants its own."""
    _BY_CONNECTION.pop(_dbapi(connection), None)


def _resend_settings(connection: Any, *_args: Any) -> None:
    """Rolling back a savepoint may undo a set_config made inside it: send them again."""
    found = _BY_CONNECTION.get(_dbapi(connection))
    if found is not None:
        found.sent = None


def _forget_on_checkin(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None:
        _BY_CONNECTION.pop(dbapi_connection, None)
