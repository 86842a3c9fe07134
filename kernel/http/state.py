"""Typed access to what the app keeps per process (the kernel) and per request (the tenant, the caller)."""

from __future__ import annotations

from starlette.requests import Request

from nentang.kernel.identity.caller import Caller
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo

KERNEL_KEY = "nentang.kernel"
TENANT_KEY = "nentang.tenant"
CALLER_KEY = "nentang.caller"


def kernel_of(request: Request) -> Kernel:
    kernel = request.app.state.kernel
    if not isinstance(kernel, Kernel):
        raise RuntimeError("the app was not built by nentang.kernel.http.app.create_app")
    return kernel


def tenant_of(request: Request) -> TenantInfo:
    tenant = request.scope.get(TENANT_KEY)
    if not isinstance(tenant, TenantInfo):
        raise RuntimeError("this route is not mounted under the tenant prefix /t/{tenant}")
    return tenant


def caller_of(request: Request) -> Caller:
    """Who is calling (possibly anonymous), as the authentication middleware resolved it."""
    caller = request.scope.get(CALLER_KEY)
    if not isinstance(caller, Caller):
        raise RuntimeError("the authentication middleware did not run for this request (see create_app)")
    return caller
