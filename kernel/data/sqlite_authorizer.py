"""SQLite: table access enforced inside the engine while a plugin's code runs.

Every connection of the embedded database gets an authorizer callback
(``sqlite3.Connection.set_authorizer``). SQLite calls it while it *prepares* a statement, once per
table, column, function or other action the statement involves. While a plugin call is marked
(:func:`nentang.kernel.plugins.running.current_call`), it:

- allows reading and writing only the tables in the call's ``tables``, and reading the key column
  of ``kernel_tenant`` (SQLite asks for it to check the ``tenant_id`` foreign key of every
  tenant-owned row; tenant ids are not secret);
- allows ``SELECT``, transactions, savepoints, recursive CTEs, and functions other than the few
  that reach the file system or load code (:data:`_DENIED_FUNCTIONS`);
- denies everything else: other tables, ``ATTACH``/``DETACH``, every ``PRAGMA``, schema changes
  (``CREATE``/``DROP``/``ALTER``), ``ANALYZE``, ``REINDEX`` and virtual tables.

With no plugin call marked (the kernel's own work, and the services a plugin asks for through its
context, which run :func:`~nentang.kernel.plugins.running.on_behalf_of_plugin`) it allows all.

**Deadlines.** Each connection also gets a progress handler: a statement run by a thread the
watchdog is stopping (``kernel/plugins/watchdog.py``) is interrupted inside SQLite, so a query
that never ends (a recursive CTE) gives its thread back at the deadline.

**The statement cache.** Python's ``sqlite3`` keeps prepared statements by SQL text, and SQLite
calls the authorizer only when preparing: a statement the kernel prepared earlier on a pooled
connection would run for a plugin unchecked. So every statement SQLAlchemy sends inside a plugin
call is prefixed with a comment naming the plugin and a digest of its table set; a plugin's
statements then never share a cache entry with the kernel's, nor with another table set's.
A plugin that reaches the raw driver (``engine.raw_connection()``) and reuses the kernel's SQL text
on a connection that cached it is not checked again: that is the static policy's to refuse (it
refuses raw drivers), and this layer, like row-level security, stops bugs rather than hostile code.

A refusal surfaces as :class:`~nentang.sdk.errors.ScopeViolation` through SQLAlchemy, naming the
plugin and what it touched; through the raw driver it is ``sqlite3.DatabaseError``: "not authorized",
or "access to <table>.<column> is prohibited" for a column read.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextvars import ContextVar
from threading import get_ident
from typing import Any, Final

from sqlalchemy import Engine, event

from nentang.kernel.plugins.running import STOPPING, PluginCall, current_call
from nentang.sdk.errors import ScopeViolation

_OK: Final = sqlite3.SQLITE_OK
_DENY: Final = sqlite3.SQLITE_DENY

_TABLE_ACTIONS: Final = {
    sqlite3.SQLITE_READ: "read",
    sqlite3.SQLITE_INSERT: "insert into",
    sqlite3.SQLITE_UPDATE: "update",
    sqlite3.SQLITE_DELETE: "delete from",
}
_ALWAYS_ALLOWED: Final = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT, sqlite3.SQLITE_RECURSIVE}
)
#: Functions that read or write files, load code or change the tokenizer table (when compiled in).
_DENIED_FUNCTIONS: Final = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile", "sqlar_compress"}
)
#: Every tenant-owned table's ``tenant_id`` references it; SQLite reads it to check that key.
_FOREIGN_KEY_READS: Final = frozenset({("kernel_tenant", "id")})

_CREATES: Final = frozenset({sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW})
#: The database's tables and views, as read when each connection opened and as created since
#: through this process: a table read without naming a column comes without a database name, as
#: a common table expression's rows do, and only the name tells them apart.
_REAL_TABLES: Final[set[str]] = set()
_SCHEMA: Final = "change the schema or run maintenance (ANALYZE, REINDEX, virtual tables)"
#: What the authorizer last refused on this thread/context, for the error message.
_REFUSED: Final[ContextVar[str | None]] = ContextVar("nentang.sqlite_refused", default=None)
_MARKS: dict[tuple[str, frozenset[str]], str] = {}
#: Virtual-machine steps between two looks at the watchdog: a small query never reaches it.
_PROGRESS_STEPS: Final = 10_000
_MAX_MARKS: Final = 4096


def install_sqlite_authorizer(engine: Engine) -> None:
    """Refuse, inside SQLite, what a marked plugin call may not touch (see the module docstring).

    Call after the engine's own ``connect`` listener (its PRAGMAs run before the authorizer is
    set, so a connection first opened inside a plugin call still sets itself up)."""
    event.listen(engine, "connect", _set_authorizer)
    event.listen(engine, "before_cursor_execute", _mark_plugin_statement, retval=True)
    event.listen(engine, "handle_error", _explain_refusal)


def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, _inner: str | None) -> int:
    """The callback SQLite calls while preparing a statement."""
    call = current_call()
    if call is None:
        if action in _CREATES and arg1:
            _REAL_TABLES.add(arg1)
        return _OK
    if action in _ALWAYS_ALLOWED:
        return _OK
    if action == sqlite3.SQLITE_READ and db is None and arg1 not in _REAL_TABLES:
        # no database named: a common table expression's rows, or a real table from which no
        # column is read (a count, a join); only the latter is a table, and it is known by name
        return _OK
    verb = _TABLE_ACTIONS.get(action)
    if verb is not None:
        if arg1 in call.tables or (action == sqlite3.SQLITE_READ and (arg1, arg2) in _FOREIGN_KEY_READS):
            return _OK
        if action != sqlite3.SQLITE_READ and (arg1 or "").startswith("sqlite_"):
            return _refuse(_SCHEMA)  # CREATE and DROP first ask to write sqlite_master
        return _refuse(f"{verb} table {arg1}")
    if action == sqlite3.SQLITE_FUNCTION:
        if (arg2 or "").lower() in _DENIED_FUNCTIONS:
            return _refuse(f"call the function {arg2}()")
        return _OK
    if action == sqlite3.SQLITE_PRAGMA:
        return _refuse(f"run PRAGMA {arg1}")
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return _refuse("attach or detach a database")
    return _refuse(_SCHEMA)


def statement_mark(call: PluginCall) -> str:
    """The comment that keeps a plugin call's statements apart in the statement cache."""
    key = (call.plugin, call.tables)
    mark = _MARKS.get(key)
    if mark is None:
        digest = hashlib.sha256("\n".join(sorted(call.tables)).encode()).hexdigest()[:16]
        # the plugin name is a checked identifier (manifest); the digest is hex: no "*/" can appear
        mark = f"/* nentang-plugin {call.plugin.replace('*/', '')} {digest} */ "
        if len(_MARKS) >= _MAX_MARKS:
            _MARKS.clear()
        _MARKS[key] = mark
    return mark


def _refuse(what: str) -> int:
    _REFUSED.set(what)
    return _DENY


def _set_authorizer(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    _REAL_TABLES.update(name for (name,) in cursor.fetchall())
    cursor.close()
    dbapi_connection.set_authorizer(authorize)
    dbapi_connection.set_progress_handler(_past_deadline, _PROGRESS_STEPS)


def _past_deadline() -> bool:
    """SQLite's progress handler: a true answer interrupts the running statement ("interrupted")."""
    return bool(STOPPING) and get_ident() in STOPPING


def _mark_plugin_statement(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    call = current_call()
    if call is None:
        return statement, parameters
    return statement_mark(call) + statement, parameters


def _is_refusal(message: str) -> bool:
    # SQLite words a denied column read "access to t.c is prohibited", a function "not authorized
    # to use function: f", the rest "not authorized"
    return message.startswith("not authorized") or (
        message.startswith("access to ") and message.endswith(" is prohibited")
    )


def _explain_refusal(context: Any) -> None:
    original = context.original_exception
    call = current_call()
    if call is None or not isinstance(original, sqlite3.DatabaseError) or not _is_refusal(str(original)):
        return
    what = _REFUSED.get() or "run this statement"
    raise ScopeViolation(
        f"plugin {call.plugin!r} ({call.entry}, tenant {call.tenant_id}) may not {what}: SQLite's authorizer "
        "refused the statement (a plugin touches only its own tables and those its dependencies publish)"
    ) from original
