"""The runtime guard: while a plugin's code runs, every statement may touch only the plugin's tables.

The plugin call marker (:mod:`nentang.kernel.plugins.running`) says whose code runs and which
tables it may touch (:attr:`~nentang.kernel.plugins.running.PluginCall.tables`: its own and those of
the plugins it requires). While one is set, the listeners installed here refuse, with
:class:`~nentang.sdk.errors.ScopeViolation`:

- any statement — ORM or Core, read or write, through the session or any connection of the engine
  (``session.connection()``, ``session.bind.connect()``) — naming a table not in that set, by *name*:
  a mapped class, a hand-built ``Table``, ``table("kernel_user", ...)`` and a reflected table are all
  the same to it, inside joins, subqueries, aliases, unions and CTEs; a table in any schema;
- SQL the guard cannot read: ``text()``, ``exec_driver_sql``, literal columns, custom operators,
  statement prefixes and hints, DDL, sequences;
- SQL functions outside a small set of harmless ones (aggregates, string and date helpers):
  ``set_config``, ``current_setting``, ``pg_*``, ``load_extension`` and the like are refused;
- ORM changes, at flush, to objects whose table is not the plugin's (checked before any SQL).

Statements the kernel issues for a plugin (``ctx.emit``, ``ctx.audit``, a permission check) run
with the marker cleared (:func:`~nentang.kernel.plugins.running.on_behalf_of_plugin`), and so do
the kernel's own driver statements (SQLite's ``BEGIN``, PostgreSQL's transaction settings).

The answer for a statement depends only on its structure, so it is remembered by the statement's
cache key: a plugin's query is walked once per worker. What stays open: code that leaves SQLAlchemy
(the DBAPI connection, a new engine of its own) — in-process Python is not a sandbox; see
``docs/threat-model.md``. On SQLite an authorizer inside the engine and on PostgreSQL row-level
security stand behind this guard.
"""

from __future__ import annotations

import re
import weakref
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ClauseElement, visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import (
    BinaryExpression,
    ColumnClause,
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
    TextClause,
)
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.selectable import CompoundSelect, Select, TableClause

from nentang.kernel.plugins.running import PluginCall, current_call
from nentang.sdk.errors import ScopeViolation

#: SQL functions a plugin may call: aggregates, and string, number and date helpers that read only
#: their arguments. Everything else (configuration, catalog and file functions) is refused.
ALLOWED_FUNCTIONS: Final = frozenset(
    {
        "count", "sum", "min", "max", "avg", "total", "group_concat", "string_agg", "array_agg",
        "coalesce", "nullif", "ifnull", "greatest", "least",
        "lower", "upper", "length", "char_length", "trim", "ltrim", "rtrim", "substr", "substring",
        "replace", "concat", "instr", "abs", "round", "floor", "ceil", "ceiling", "random",
        "now", "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
        "date", "time", "datetime", "julianday", "strftime", "date_trunc", "date_part",
        "row_number", "rank", "dense_rank",
    }
)  # fmt: skip
#: Whole statements a plugin may run: queries and changes; savepoints (``session.begin_nested``).
_STATEMENTS: Final = (Select, CompoundSelect, Insert, Update, Delete)
_SAVEPOINTS: Final = (SavepointClause, RollbackToSavepointClause, ReleaseSavepointClause)
#: Literal columns SQLAlchemy itself writes (``count(*)``, ``EXISTS (SELECT *)``, ``SELECT 1``).
_HARMLESS_LITERAL: Final = re.compile(r"^(\*|\d+)$")


def install_plugin_guard(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Refuse, on every connection of ``engine`` and every session of ``sessions``, what a running
    plugin may not do (see the module docstring)."""
    if not event.contains(engine, "before_execute", _check_statement):
        event.listen(engine, "before_execute", _check_statement)
        event.listen(engine, "before_cursor_execute", _check_driver_sql)
    event.listen(sessions, "before_flush", _check_flush)
    event.listen(sessions, "after_transaction_end", _forget_failed_call)


def failed_call(session: Session, call: PluginCall) -> None:
    """A plugin call on ``session`` raised with changes pending: they stay the plugin's, so a later
    flush (the kernel committing anyway) is checked against the plugin's tables, not waved through
    as the kernel's. Forgotten when the transaction ends."""
    if session.new or session.dirty or session.deleted:
        _FAILED[session] = call


#: Session -> the plugin call whose unflushed changes it still holds (only after a call failed).
_FAILED: Final[weakref.WeakKeyDictionary[Session, PluginCall]] = weakref.WeakKeyDictionary()


def _forget_failed_call(session: Session, transaction: Any) -> None:
    if transaction.parent is None and _FAILED:
        _FAILED.pop(session, None)


def _check_statement(connection: Any, statement: Any, *_args: Any) -> None:
    call = current_call()
    if call is None or isinstance(statement, _SAVEPOINTS):
        return
    if not isinstance(statement, _STATEMENTS):
        what = "text() (raw SQL)" if isinstance(statement, TextClause) else f"a {type(statement).__name__} statement"
        _refuse(call, f"{what} (only queries and changes of its tables)")
    tables = _tables_of(statement)
    if isinstance(tables, str):
        _refuse(call, tables)
    outside = tables - call.tables
    if outside:
        _refuse(call, f"table {', '.join(sorted(outside))}")


def _check_driver_sql(connection: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any) -> None:
    """``exec_driver_sql`` (and any SQL not compiled from a construct) reaches the cursor uncompiled:
    nothing to read a table from, so none of it while a plugin runs."""
    if context is not None and context.compiled is None:
        call = current_call()
        if call is not None:
            _refuse(call, "SQL given as a string (exec_driver_sql)")


def _check_flush(session: Session, _context: Any, _instances: Any) -> None:
    call = current_call() or (_FAILED.get(session) if _FAILED else None)
    if call is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__table__", None)
        name = getattr(table, "name", None)
        if name not in call.tables:
            _refuse(call, f"a change to table {name or type(obj).__name__}")


def _refuse(call: PluginCall, what: str) -> None:
    raise ScopeViolation(
        f"plugin {call.plugin!r} ({call.entry}) may not use {what}: a plugin touches only its own tables "
        "and those of the plugins it requires, through SQLAlchemy constructs",
        code="plugin.statement_refused",
    )


def _tables_of(statement: ClauseElement) -> frozenset[str] | str:
    """The names of the tables ``statement`` touches, or why it cannot be allowed at all."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return _analyse(statement)
    found = _ANALYSED.get(cache_key.key)
    if found is None:
        found = _analyse(statement)
        if len(_ANALYSED) >= _MAX_ANALYSED:
            _ANALYSED.clear()
        _ANALYSED[cache_key.key] = found
    return found


#: Statement cache key -> the table names it touches, or the reason it is refused.
_ANALYSED: dict[Any, frozenset[str] | str] = {}
_MAX_ANALYSED: Final = 4096


def _analyse(statement: ClauseElement) -> frozenset[str] | str:
    for hidden in ("_prefixes", "_suffixes", "_hints", "_statement_hints"):
        if getattr(statement, hidden, None):
            return "statement prefixes, suffixes or hints (raw SQL)"
    names: set[str] = set()
    for element in visitors.iterate(statement):
        refused = _refusal(element, names)
        if refused is not None:
            return refused
    for table in _crud_tables(statement):
        names.add(table)
    return frozenset(names)


def _refusal(element: Any, names: set[str]) -> str | None:
    if isinstance(element, TableClause):
        if element.schema is not None:
            return f"table {element.schema}.{element.name} (another schema)"
        names.add(element.name)
    elif isinstance(element, TextClause):
        return "text() (raw SQL)"
    elif isinstance(element, FunctionElement):
        name = str(getattr(element, "name", type(element).__name__)).lower()
        if getattr(element, "packagenames", ()) or name not in ALLOWED_FUNCTIONS:
            return f"SQL function {name}()"
    elif isinstance(element, ColumnClause):
        if element.is_literal and not _HARMLESS_LITERAL.match(element.name):
            return "a literal column (raw SQL)"
        if element.table is not None and isinstance(element.table, TableClause):
            return _refusal(element.table, names)
    elif isinstance(element, BinaryExpression) and isinstance(element.operator, custom_op):
        return f"the custom operator {element.operator.opstring!r} (raw SQL)"
    return None


def _crud_tables(statement: ClauseElement) -> list[str]:
    """The target of an insert, update or delete (also found by the walk; named here so that a
    construct hiding it from ``iterate`` is still checked)."""
    table = getattr(statement, "table", None)
    return [table.name] if isinstance(table, TableClause) else []
