"""Whether a tenant serves requests, as this worker last read it.

Every authenticated request asks (a suspended province pauses its communes' tokens and sessions);
reading the tenant and its ancestors each time would cost two queries per request. The answer is
kept per tenant and forgotten whole on any change to the tree — this worker's own commit at once,
another worker's or the CLI's within the propagation delay (LISTEN/NOTIFY, or the version poll) —
because one suspension changes the answer for a whole subtree.
"""

from __future__ import annotations

from typing import Final, final

from nentang.kernel.propagation.cache import LoadingCache
from nentang.kernel.tenancy.service import TenantInfo, TenantService

#: Tenants remembered per worker (the national tree has ~3,400).
DEFAULT_MAX_TENANTS: Final = 100_000


@final
class ServingTenants:
    def __init__(self, tenants: TenantService, max_tenants: int = DEFAULT_MAX_TENANTS) -> None:
        self._tenants = tenants
        self._cache: LoadingCache[int, tuple[TenantInfo, bool]] = LoadingCache(self._load, max_tenants)

    def get(self, tenant_id: int) -> tuple[TenantInfo, bool]:
        """The tenant and whether it serves (it and every ancestor active); may read the database."""
        return self._cache.get(tenant_id)

    def known(self, tenant_id: int) -> tuple[TenantInfo, bool] | None:
        """:meth:`get` from memory only (fit for the event loop), or ``None``."""
        return self._cache.peek(tenant_id)

    def forget(self, _key: str | None = None) -> None:
        """The watcher's subscriber for the tenancy topic."""
        self._cache.evict(None)

    def _load(self, tenant_id: int) -> tuple[TenantInfo, bool]:
        tenant = self._tenants.get_by_id(tenant_id)
        return tenant, self._tenants.is_serving(tenant)
