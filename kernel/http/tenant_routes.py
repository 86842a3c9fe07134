"""Routes under ``/t/{tenant}/``: what the kernel itself serves for a tenant."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nentang.kernel.http.state import kernel_of, tenant_of
from nentang.kernel.tenancy.service import TenantInfo


def tenant_json(tenant: TenantInfo) -> dict[str, object]:
    return {
        "code": tenant.code,
        "name": tenant.name,
        "kind": tenant.kind.value,
        "division_type": tenant.division_type,
        "status": tenant.status.value,
        "depth": tenant.depth,
        "created_at": tenant.created_at.isoformat(),
    }


async def tenant_home(request: Request) -> JSONResponse:
    kernel = kernel_of(request)
    tenant = tenant_of(request)
    ancestors = await run_in_threadpool(kernel.tenants.ancestors, tenant.code)
    enabled = await run_in_threadpool(kernel.plugins.dispatcher.enabled, tenant.id)
    return JSONResponse(
        {"tenant": tenant_json(tenant), "ancestors": [a.code for a in ancestors], "plugins": sorted(enabled)}
    )


routes = [Route("/", tenant_home, methods=["GET"])]
