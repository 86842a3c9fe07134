"""Per-worker caches for the hot path of a permission check.

- grants: a principal's grants ``(tenant_id, role_id)``, read with one indexed query and kept
  in a bounded LRU. A user holds a handful of grants, so two million users' assignments never
  need to be in memory at once.
- paths: a tenant's ancestor ids (from its materialised path).
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from nentang.kernel.authz.models import Grant
from nentang.kernel.propagation.cache import LoadingCache
from nentang.kernel.tenancy.models import Tenant, path_ids

GrantList = tuple[tuple[int, int], ...]


def _miss_reader(engine: Engine) -> Engine:
    """The engine a cache miss reads through: one SELECT, no transaction to speak of.

    On PostgreSQL, AUTOCOMMIT saves the BEGIN and ROLLBACK round trips around that SELECT (about
    half a miss's latency, measured by ``bench/authz_scale.py``); it matters when a whole topic is
    flushed and every active principal misses at once. SQLite keeps the kernel's own transaction
    handling (``engines.py`` issues BEGIN itself), where a round trip costs nothing.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def grant_cache(engine: Engine, max_principals: int = 200_000) -> LoadingCache[str, GrantList]:
    engine = _miss_reader(engine)

    def load(principal: str) -> GrantList:
        with engine.connect() as connection:
            rows = connection.execute(select(Grant.tenant_id, Grant.role_id).where(Grant.principal == principal)).all()
        return tuple((tenant_id, role_id) for tenant_id, role_id in rows)

    return LoadingCache(load, max_principals)


def tenant_path_cache(engine: Engine, max_tenants: int = 50_000) -> LoadingCache[int, frozenset[int]]:
    """Tenant id → the ids of the tenant and all its ancestors (empty if there is no such tenant)."""
    engine = _miss_reader(engine)

    def load(tenant_id: int) -> frozenset[int]:
        with engine.connect() as connection:
            path = connection.scalar(select(Tenant.path).where(Tenant.id == tenant_id))
        return frozenset(path_ids(path)) if path else frozenset()

    return LoadingCache(load, max_tenants)
