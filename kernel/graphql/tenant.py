"""Which tenant a GraphQL request is for, and whether the caller may use it.

- An API token is bound to its tenant: that is the request's tenant. An ``X-Tenant`` header naming
  another tenant is refused (403 ``tenant.mismatch``), never silently ignored.
- A signed-in user names the tenant with ``X-Tenant: <official code>`` (400 ``tenant.required``
  without it). The user must stand there: it is the user's home tenant or below it, or the user
  holds a role at it or above it (403 ``tenant.forbidden`` otherwise). What the user may *do* there
  is still decided field by field.
- An anonymous caller names the tenant the same way and gets its public fields only.
- A suspended tenant, or one under a suspended tenant, is refused (403 ``tenant.unavailable``).

A token's tenant is answered by the worker's :class:`~nentang.kernel.tenancy.serving.ServingTenants`
(the same entry the authentication middleware just read). Tenants named by ``X-Tenant`` are kept
by code for ``graphql.tenant_cache_seconds`` (one second by default); both are forgotten at once
when this worker changes the tree or hears that another one did.
"""

from __future__ import annotations

import threading
import time
from typing import final

from nentang.kernel.graphql.errors import TENANT_FORBIDDEN, TENANT_MISMATCH, TENANT_REQUIRED, RequestError
from nentang.kernel.identity.caller import Caller
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantNotFound, TenantUnavailable

_Entry = tuple[float, TenantInfo, bool]


@final
class TenantResolver:
    def __init__(self, kernel: Kernel, ttl: float) -> None:
        self._kernel = kernel
        self._ttl = ttl
        self._by_code: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def forget(self, _key: object = None) -> None:
        with self._lock:
            self._by_code.clear()

    def cached(self, caller: Caller, header: str | None) -> TenantInfo | None:
        """:meth:`resolve` without blocking, for a token or an anonymous caller whose tenant was
        resolved moments ago (the hot path); ``None`` when that needs the database."""
        if caller.user is not None or self._ttl <= 0:
            return None
        if caller.token is not None:
            if self._kernel.serving.known(caller.token.tenant_id) is None:
                return None
        else:
            entry = self._by_code.get(header.strip()) if header else None
            if entry is None or entry[0] <= time.monotonic():
                return None
        return self.resolve(caller, header)  # answered from memory: no database read

    def resolve(self, caller: Caller, header: str | None) -> TenantInfo:
        """The request's tenant (runs in a worker thread), or a ``RequestError`` saying why not."""
        header = header.strip() if header is not None else None
        try:
            if caller.token is not None:
                tenant, serving = self._lookup(tenant_id=caller.token.tenant_id)
                if header and header != tenant.code:
                    raise RequestError(
                        TENANT_MISMATCH,
                        f"this API token is bound to tenant {tenant.code!r}; it cannot act for {header!r} "
                        "(drop the X-Tenant header, or use a token of that tenant)",
                        403,
                        always=True,
                    )
            else:
                if not header:
                    raise RequestError(
                        TENANT_REQUIRED,
                        "say which tenant you act for: send 'X-Tenant: <official code>'",
                        400,
                        always=True,
                    )
                tenant, serving = self._lookup(code=header)
                if caller.user is not None and not self._stands_at(caller, tenant):
                    raise RequestError(
                        TENANT_FORBIDDEN,
                        f"{caller.principal} has no role at {tenant.code!r} or above it, and it is not their home "
                        "tenant; name a tenant where you work",
                        403,
                        always=True,
                    )
        except TenantNotFound as exc:
            raise RequestError(exc.code, exc.message, 400, always=True) from None
        if not serving:
            refused = TenantUnavailable(f"tenant {tenant.code!r} is suspended (or under a suspended tenant)")
            raise RequestError(refused.code, refused.message, 403, always=True)
        return tenant

    def _stands_at(self, caller: Caller, tenant: TenantInfo) -> bool:
        home = caller.user.home_tenant_id if caller.user is not None else None
        return self._kernel.authz.stands_at(caller.principal, home, tenant.id)

    def _lookup(self, *, code: str | None = None, tenant_id: int | None = None) -> tuple[TenantInfo, bool]:
        if code is None:
            return self._kernel.serving.get(tenant_id or 0)
        now = time.monotonic()
        entry = self._by_code.get(code)
        if entry is not None and entry[0] > now:
            return entry[1], entry[2]
        tenants = self._kernel.tenants
        tenant = tenants.get(code)
        serving = tenants.is_serving(tenant)
        if self._ttl > 0:
            with self._lock:
                if len(self._by_code) > 10_000:
                    self._by_code.clear()
                self._by_code[tenant.code] = (now + self._ttl, tenant, serving)
        return tenant, serving
