"""Bind the tenant named in the URL prefix ``/t/{tenant}/`` to the request and its logs.

Routes under the prefix (the kernel's and, later, plugins') find the resolved tenant with
``tenant_of(request)``; a suspended tenant (or one under a suspended ancestor) is refused here.
"""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from nentang.kernel.http.errors import error_response, status_for
from nentang.kernel.http.state import TENANT_KEY
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NentangError, TenantUnavailable


class TenantBindingMiddleware:
    def __init__(self, app: ASGIApp, kernel: Kernel) -> None:
        self.app = app
        self.kernel = kernel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = scope.get("path_params", {}).get("tenant", "")
        try:
            tenant = await run_in_threadpool(self._resolve, code)
        except NentangError as exc:
            response = error_response(scope, exc.code, exc.message, status_for(exc))
            await response(scope, receive, send)
            return
        structlog.contextvars.bind_contextvars(tenant=tenant.code)
        scope[TENANT_KEY] = tenant
        await self.app(scope, receive, send)

    def _resolve(self, code: str):  # type: ignore[no-untyped-def]
        tenant = self.kernel.tenants.get(code)
        if not self.kernel.tenants.is_serving(tenant):
            raise TenantUnavailable(f"tenant {code!r} is suspended (or under a suspended tenant)")
        return tenant
