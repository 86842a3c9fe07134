"""Per-worker caches for the hot path of a permission check.

- :class:`GrantCache`: a principal's grants ``(tenant_id, role_id)``, read with one indexed
  query and kept in a bounded LRU. A user holds a handful of grants, so two million users'
  assignments never need to be in memory at once.
- :class:`TenantPathCache`: a tenant's ancestor ids (from its materialised path).

Both are invalidated from the change watcher's thread. A read that raced with an invalidation
is not stored (the generation check), so a stale entry cannot outlive the change that made it stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar, final

from sqlalchemy import Engine, select

from nentang.kernel.authz.models import Grant
from nentang.kernel.tenancy.models import Tenant, path_ids

K = TypeVar("K")
V = TypeVar("V")


@final
class LoadingCache(Generic[K, V]):
    """A bounded LRU that loads misses through ``load`` and never stores a raced read."""

    def __init__(self, load: Callable[[K], V], max_entries: int) -> None:
        self._load = load
        self._max = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        try:
            value = self._entries[key]
            self._entries.move_to_end(key)  # may race with an eviction: then it is a miss
            return value
        except KeyError:
            pass
        generation = self._generation
        value = self._load(key)
        with self._lock:
            if generation == self._generation:
                self._entries[key] = value
                if len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return value

    def evict(self, key: K | None) -> None:
        """Forget ``key`` (``None``: everything)."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


GrantList = tuple[tuple[int, int], ...]


def grant_cache(engine: Engine, max_principals: int = 200_000) -> LoadingCache[str, GrantList]:
    def load(principal: str) -> GrantList:
        with engine.connect() as connection:
            rows = connection.execute(select(Grant.tenant_id, Grant.role_id).where(Grant.principal == principal)).all()
        return tuple((tenant_id, role_id) for tenant_id, role_id in rows)

    return LoadingCache(load, max_principals)


def tenant_path_cache(engine: Engine, max_tenants: int = 50_000) -> LoadingCache[int, frozenset[int]]:
    """Tenant id → the ids of the tenant and all its ancestors (empty if there is no such tenant)."""

    def load(tenant_id: int) -> frozenset[int]:
        with engine.connect() as connection:
            path = connection.scalar(select(Tenant.path).where(Tenant.id == tenant_id))
        return frozenset(path_ids(path)) if path else frozenset()

    return LoadingCache(load, max_tenants)
