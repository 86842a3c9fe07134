"""Bind ``/t/{code}/console/...`` to its unit and to a signed-in person who may stand there.

Every page and form under a unit's console passes here first, so no handler can forget:

- nobody signed in (or the session expired, was revoked or idled out) → 303 to the sign-in page,
  which says the session ended when the browser still sent a session cookie, and returns here after;
- an unknown unit code → 404 page;
- a suspended unit (or one under a suspended unit) → 403 page: its administrators act on it from
  a unit above, where it is listed with its status;
- a person who neither belongs there (home unit at or above it) nor holds a role at it or above →
  403 page, audited (``console.tenant_refused``) in their home unit and the unit named — the same
  rule and the same security event as GraphQL's ``X-Tenant`` (``tenant.forbidden``).

The unit is then ``tenant_of(request)``: the unit the person acts *for*. Every unit a page names in
its path or form is looked up *within* this unit's subtree (``units.unit_in_scope``).
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from nentang.kernel.console.pages import SIGN_IN, caller_in, console_of, redirect, refusal
from nentang.kernel.console.plugin_pages import PAGES_KEY, find_pages
from nentang.kernel.http.state import TENANT_KEY
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantNotFound


class ConsoleTenantBinding:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        refused = await self._refusal(request, scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refusal(self, request: Request, scope: Scope) -> Response | None:
        console = console_of(request)
        kernel = console.kernel
        caller = caller_in(request)
        code = str(scope.get("path_params", {}).get("tenant", ""))
        if caller.user is None:
            return redirect(request, sign_in_url(request, f"/t/{code}/console/"))
        try:
            tenant: TenantInfo = await run_in_threadpool(kernel.tenants.get, code)
        except TenantNotFound:
            return refusal(request, "unknown_unit", code, status=404)
        if not await run_in_threadpool(kernel.tenants.is_serving, tenant):
            return refusal(request, "unit_suspended", tenant.code, status=403)
        user = caller.user
        if not await run_in_threadpool(kernel.authz.stands_at, caller.principal, user.home_tenant_id, tenant.id):
            record = partial(
                console.refusals.record,
                actor=caller.actor,
                tenant_ids=(tenant.id,),
                action="console.tenant_refused",
                target=tenant.code,
                code="tenant.forbidden",
                detail={"path": request.url.path, "method": request.method},
            )
            await run_in_threadpool(record)
            return refusal(request, "not_your_unit", tenant.code, status=403)
        scope[TENANT_KEY] = tenant
        # the plugins' pages here (for the menu and the page route): only enabled plugins are asked
        scope[PAGES_KEY] = await run_in_threadpool(find_pages, kernel, tenant, str(caller.actor))
        return None


def sign_in_url(request: Request, fallback: str) -> str:
    """The sign-in page, returning here afterwards (a GET; after a refused post, ``fallback``)."""
    back = request.url.path if request.method == "GET" else fallback
    if request.method == "GET" and request.url.query:
        back = f"{back}?{request.url.query}"
    query = {"next": back}
    cookie_name = console_of(request).kernel.settings.identity.session_cookie_name
    if request.cookies.get(cookie_name):
        query["expired"] = "1"  # the browser still had a session: tell the person it ended
    return f"{SIGN_IN}?{urlencode(query)}"
