"""Per-worker reads behind the hot path of a permission check.

- :class:`GrantReader`: one principal's grants, or everyone's, from ``kernel_grant``. A single
  principal's read is the cache's miss path: one indexed SELECT on a connection kept for it (no pool
  checkout, no transaction, the statement prepared by the driver once and reused).
- paths: a tenant's ancestor ids (from its materialised path), in a bounded LRU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Final, final

from sqlalchemy import Engine, QueuePool, select

from nentang.kernel.authz.grant_table import GrantList
from nentang.kernel.authz.models import Grant
from nentang.kernel.propagation.cache import LoadingCache
from nentang.kernel.tenancy.models import Tenant, path_ids

#: Idle kept connections beyond this are closed (a burst of misses from many threads opens more).
_KEEP: Final = 2
#: Rows fetched per round trip when reading every grant.
_BATCH: Final = 20_000


def _miss_reader(engine: Engine) -> Engine:
    """The engine a one-off read goes through: one SELECT, no transaction to speak of.

    On PostgreSQL, AUTOCOMMIT saves the BEGIN and ROLLBACK round trips around that SELECT. SQLite
    keeps the kernel's own transaction handling (``engines.py`` issues BEGIN itself), where a round
    trip costs nothing.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@final
class GrantReader:
    """Reads grants from the application engine; the single-principal read on kept connections."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        mark = "%s" if self._postgres else "?"
        self._sql = f"SELECT tenant_id, role_id FROM kernel_grant WHERE principal = {mark}"
        #: A pool of its own only where the engine has a real one (an in-memory SQLite database has one
        #: connection, shared: that goes through the engine).
        self._keeps = isinstance(engine.pool, QueuePool)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def grants_of(self, principal: str) -> GrantList:
        if not self._keeps:
            with _miss_reader(self._engine).connect() as connection:
                rows = connection.execute(select(Grant.tenant_id, Grant.role_id).where(Grant.principal == principal))
                return tuple(sorted({(t, r) for t, r in rows}))
        try:
            return self._read_kept(principal)
        except Exception:  # a kept connection that died (server restart, network): one more try on a fresh one
            return self._read_kept(principal, fresh=True)

    def _read_kept(self, principal: str, *, fresh: bool = False) -> GrantList:
        kept = self._checkout(fresh)
        try:
            cursor = kept.dbapi_connection.cursor()
            try:
                cursor.execute(self._sql, (principal,))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        except BaseException:
            kept.close()
            raise
        self._checkin(kept)
        return tuple(sorted({(t, r) for t, r in rows}))

    def _checkout(self, fresh: bool) -> Any:
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        kept = self._engine.raw_connection()
        kept.detach()  # out of the engine's pool: it neither counts against the pool nor goes back to it
        if self._postgres:
            kept.dbapi_connection.autocommit = True  # each SELECT alone: no BEGIN, no ROLLBACK
        return kept

    def _checkin(self, kept: Any) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _KEEP:
                self._idle.append(kept)
                return
        kept.close()

    def all_grants(self) -> Iterator[tuple[str, int, int]]:
        """Every grant ``(principal, tenant_id, role_id)``, streamed through a bare cursor (at two
        million rows, SQLAlchemy's result rows would double the read)."""
        raw = self._engine.raw_connection()
        try:
            if self._postgres:
                cursor = raw.dbapi_connection.cursor(
                    name="nentang_all_grants", binary=True
                )  # streamed; binary: no int parsing
            else:
                cursor = raw.dbapi_connection.cursor()
            try:
                cursor.execute("SELECT principal, tenant_id, role_id FROM kernel_grant")
                while rows := cursor.fetchmany(_BATCH):
                    yield from rows
            finally:
                cursor.close()
            raw.rollback()
        finally:
            raw.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for kept in idle:
            kept.close()


def tenant_path_cache(engine: Engine, max_tenants: int = 50_000) -> LoadingCache[int, frozenset[int]]:
    """Tenant id → the ids of the tenant and all its ancestors (empty if there is no such tenant)."""
    engine = _miss_reader(engine)

    def load(tenant_id: int) -> frozenset[int]:
        with engine.connect() as connection:
            path = connection.scalar(select(Tenant.path).where(Tenant.id == tenant_id))
        return frozenset(path_ids(path)) if path else frozenset()

    return LoadingCache(load, max_tenants)


def all_tenant_paths(engine: Engine, max_tenants: int = 50_000) -> dict[int, frozenset[int]]:
    """Every tenant's ancestor ids (at most ``max_tenants`` of them), for :meth:`LoadingCache.fill`."""
    with _miss_reader(engine).connect() as connection:
        rows = connection.execute(select(Tenant.id, Tenant.path).limit(max_tenants))
        return {tenant_id: frozenset(path_ids(path)) for tenant_id, path in rows if path}
