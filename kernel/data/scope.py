"""Tenant scopes for data sessions, enforced on every statement.

A session carries one :class:`DataScope`:

- **tenant** — reads and writes the rows of one tenant;
- **subtree** — reads the rows of a set of tenants (a roll-up over a subtree), writes nothing;
- **platform** — the kernel's own tables (tenants, migrations); touching a tenant-owned table
  through it is refused, so forgetting to bind a tenant fails loudly instead of leaking.

The guards installed by :func:`install_scope_guards` add the tenant filter to every ORM select,
update and delete, fill ``tenant_id`` on insert and refuse rows of other tenants at flush. On
PostgreSQL each transaction also sets ``nentang.read_tenants``/``nentang.write_tenant`` so the
row-level security policies enforce the same rule for raw SQL (defence in depth; ``pg_scope.py``).

The scope is kept in this module, keyed by session, never in anything the session exposes: code
holding a session (a plugin's) cannot re-scope it. While a plugin's code runs, the runtime guard
(``plugin_guard.py``) also limits its statements to the plugin's own tables.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, final

from sqlalchemy import Table, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import find_tables

from nentang.kernel.data import pg_scope, sqlite_begin
from nentang.sdk.errors import CrossTenantWrite, ScopeViolation
from nentang.sdk.tables import TenantOwned


@final
@dataclass(frozen=True, slots=True)
class DataScope:
    #: Tenant ids whose rows may be read; empty for the platform scope.
    read: frozenset[int]
    #: The one tenant whose rows may be written, or ``None`` (read-only / platform).
    write: int | None
    #: A human label for error messages ("tenant 12", "subtree of tenant 3", "platform").
    label: str

    @classmethod
    def tenant(cls, tenant_id: int) -> DataScope:
        return cls(read=frozenset({tenant_id}), write=tenant_id, label=f"tenant {tenant_id}")

    @classmethod
    def subtree(cls, root_id: int, tenant_ids: frozenset[int]) -> DataScope:
        return cls(read=tenant_ids, write=None, label=f"subtree of tenant {root_id} (read-only)")

    @classmethod
    def platform(cls) -> DataScope:
        return cls(read=frozenset(), write=None, label="platform")

    @property
    def is_platform(self) -> bool:
        return not self.read and self.write is None


#: Session -> its scope. Kept here, not in ``session.info``: a plugin holds its session, and
#: whatever that dictionary says is the plugin's to rewrite.
_SCOPES: Final[weakref.WeakKeyDictionary[Session, DataScope]] = weakref.WeakKeyDictionary()
#: Session -> what to run once its outermost transaction ends (kernel code only, for the same reason).
_AFTER: Final[weakref.WeakKeyDictionary[Session, list[Callable[[], None]]]] = weakref.WeakKeyDictionary()


def scope_of(session: Session) -> DataScope:
    scope = _SCOPES.get(session)
    if scope is None:
        raise ScopeViolation("this session was not opened through nentang.kernel.data.Database")
    return scope


def bind_scope(session: Session, scope: DataScope) -> None:
    _SCOPES[session] = scope


@contextmanager
def acting_for_tenant(session: Session, tenant_id: int) -> Iterator[None]:
    """Let a platform session write one tenant's rows for the duration of the block.

    For kernel services that record a tenant-owned fact (an audit entry, a plugin activation)
    in the same transaction as a platform change. Plugins never get this: their sessions are
    tenant-bound.
    """
    with scoped(session, DataScope.tenant(tenant_id)):
        yield


@contextmanager
def scoped(session: Session, scope: DataScope) -> Iterator[None]:
    """Run the block under ``scope`` (inside the caller's transaction), then restore the scope."""
    previous = scope_of(session)
    # changes pending from before are written under the scope they were made in: on PostgreSQL
    # row-level security checks them against the settings in force when they are flushed
    session.flush()
    bind_scope(session, scope)
    _apply_database_settings(session, scope)
    try:
        yield
        session.flush()  # changes made under this scope are checked and written under it
    finally:
        bind_scope(session, previous)
        _apply_database_settings(session, previous)


def install_scope_guards(factory: sessionmaker[Session]) -> None:
    """Attach the tenant guards to every session ``factory`` makes."""
    event.listen(factory, "do_orm_execute", _guard_statement)
    event.listen(factory, "before_flush", _guard_flush)
    event.listen(factory, "after_begin", _on_begin)
    event.listen(factory, "after_transaction_end", _run_after_transaction)
    bind = factory.kw.get("bind")
    if bind is not None and bind.dialect.name == "postgresql":
        pg_scope.install(bind.engine)


def run_after_transaction(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's outermost transaction has ended, committed or not.

    For records that must survive the caller's rollback (an audited refusal) without opening
    a second writer while the caller may still hold the database's write lock.
    """
    _AFTER.setdefault(session, []).append(callback)


def _run_after_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    callbacks = _AFTER.pop(session, [])
    for callback in callbacks:
        callback()


def _on_begin(session: Session, transaction: Any, connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        scope = scope_of(session)
        pg_scope.want(connection, scope.read, scope.write)
    elif connection.get_execution_options().get(sqlite_begin.SESSION_BEGINS):
        sqlite_begin.begin(session, transaction, connection)


def _apply_database_settings(session: Session, scope: DataScope) -> None:
    if session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            pg_scope.want(connection, scope.read, scope.write)


def _tenant_mappers(state: ORMExecuteState) -> list[Any]:
    """The tenant-owned classes whose tables the statement reads or writes, wherever they appear
    (entity, select_from, join, subquery). The filter goes through the ORM, so a tenant-owned
    table named through Core (``Note.__table__``) is refused rather than silently unfiltered;
    ``text()`` is invisible here, and on PostgreSQL row-level security still applies to it.

    The answer depends only on the statement's structure, so it is remembered by the statement's
    cache key (which SQLAlchemy computes for its compiled cache anyway): a resolver's query
    walks its tree once per worker, not once per request."""
    cache_key = state.statement._generate_cache_key()
    if cache_key is None:
        return _analyse(state.statement)
    key = cache_key.key
    found = _ANALYSED.get(key)
    if found is None:
        try:
            found = tuple(_analyse(state.statement))
        except ScopeViolation as refused:
            found = refused
        if len(_ANALYSED) >= _MAX_ANALYSED:
            _ANALYSED.clear()
        _ANALYSED[key] = found
    if isinstance(found, ScopeViolation):
        raise ScopeViolation(found.message)
    return list(found)


#: Statement cache key -> the tenant-owned classes it touches, or the refusal it earns.
_ANALYSED: dict[Any, tuple[type, ...] | ScopeViolation] = {}
_MAX_ANALYSED: Final = 4096


def _analyse(statement: Any) -> list[Any]:
    by_table = _tenant_owned_tables()
    if not by_table:
        return []
    owned = [t for t in find_tables(statement, include_crud=True, check_columns=True) if t in by_table]
    if not owned:
        return []
    through_orm = _tables_named_through_orm(statement)
    bare = sorted({t.name for t in owned} - through_orm)
    if bare:
        raise ScopeViolation(
            f"tenant-owned table(s) {', '.join(bare)} used through Core; "
            "query the mapped class so the tenant filter can be applied"
        )
    return list({by_table[t]: None for t in owned})


def _tables_named_through_orm(statement: Any) -> set[str]:
    names: set[str] = set()
    for element in visitors.iterate(statement):
        annotations = getattr(element, "_annotations", None)
        if not annotations or "parententity" not in annotations:
            continue
        table = element if isinstance(element, Table) else getattr(element, "table", None)
        if isinstance(table, Table):
            names.add(table.name)
    return names


def _tenant_owned_tables() -> dict[Any, type]:
    found: dict[Any, type] = {}
    pending: list[type] = [TenantOwned]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        table = getattr(cls, "__table__", None)
        if table is not None:
            found[table] = cls
    return found


def _guard_statement(state: ORMExecuteState) -> None:
    owned = _tenant_mappers(state)
    if not owned:
        return
    scope = scope_of(state.session)
    names = ", ".join(sorted(cls.__tablename__ for cls in owned))  # type: ignore[attr-defined]
    if scope.is_platform:
        raise ScopeViolation(
            f"the platform session cannot touch tenant-owned table(s) {names}; "
            "open a tenant session (Database.tenant) or a subtree scope (Database.subtree)"
        )
    if state.is_select:
        state.statement = state.statement.options(*(_tenant_filter(cls, scope.read) for cls in owned))
        return
    if scope.write is None:
        raise ScopeViolation(f"{scope.label} cannot write tenant-owned table(s) {names}")
    write_id = scope.write
    if state.is_update or state.is_delete:
        state.statement = state.statement.options(*(_tenant_filter(cls, frozenset({write_id})) for cls in owned))
        return
    if state.is_insert:
        _check_bulk_insert(state, write_id, names)


def _tenant_filter(cls: Any, tenant_ids: frozenset[int]) -> Any:
    """The loader option that keeps ``cls`` to ``tenant_ids``. Options are immutable, so one per
    (class, tenants) serves every statement; a single tenant compares with ``=``, which costs
    less to execute than an expanding ``IN``."""
    key = (cls, tenant_ids)
    option = _FILTERS.get(key)
    if option is None:
        column = cls.tenant_id
        if len(tenant_ids) == 1:
            (only,) = tenant_ids
            criteria = column == only
        else:
            criteria = column.in_(sorted(tenant_ids))
        option = with_loader_criteria(cls, criteria, include_aliases=True)
        if len(_FILTERS) >= _MAX_FILTERS:
            _FILTERS.clear()
        _FILTERS[key] = option
    return option


_FILTERS: dict[tuple[Any, frozenset[int]], Any] = {}
_MAX_FILTERS: Final = 4096


def _check_bulk_insert(state: ORMExecuteState, write_id: int, names: str) -> None:
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    if not rows:
        raise ScopeViolation(
            f"insert into {names}: pass rows as parameters (or use session.add) so the tenant can be checked"
        )
    for row in rows:
        row.setdefault("tenant_id", write_id)
        if row["tenant_id"] != write_id:
            raise CrossTenantWrite(
                f"insert into {names}: row for tenant {row['tenant_id']} in a session bound to tenant {write_id}"
            )


def _guard_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, TenantOwned)]
    if not changed:
        return
    scope = scope_of(session)
    if scope.write is None:
        table = changed[0].__tablename__  # type: ignore[attr-defined]
        raise ScopeViolation(f"{scope.label} cannot write tenant-owned table {table}")
    for obj in changed:
        table = obj.__tablename__  # type: ignore[attr-defined]
        if obj in session.new and obj.tenant_id is None:
            obj.tenant_id = scope.write
        history = inspect(obj).attrs.tenant_id.history
        original = history.deleted[0] if history.deleted else obj.tenant_id
        if obj.tenant_id != scope.write or original != scope.write:
            raise CrossTenantWrite(
                f"{table}: a row of tenant {original if original != scope.write else obj.tenant_id} "
                f"cannot be written through a session bound to tenant {scope.write}"
            )
