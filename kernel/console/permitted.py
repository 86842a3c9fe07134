"""A unit a page reads, found in the acting unit's subtree and checked for one permission.

Shared by the pages that read without acting (Audit, Plugins): the unit named (default: the acting
unit) must lie in the acting unit's subtree (else the same 404 as an unknown code), and the caller
must hold the permission there by :meth:`AuthzService.require` — GraphQL's ``require_at`` rule, a
grant at an ancestor counting. A refusal is recorded as ``console.refused``, as for any act.
"""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from nentang.kernel.console.pages import caller_in, console_of, refusal
from nentang.kernel.console.units import OutOfScope, unit_in_scope
from nentang.kernel.http.state import tenant_of
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import PermissionDenied


async def permitted_unit(request: Request, code: str | None, name: str, permission: str) -> TenantInfo | Response:
    """The unit, or the page saying why not (404, or the refusal with its reason, status 403).
    ``name`` is what the refusal's audit entry calls the read (``audit.read``)."""
    console, acting, caller = console_of(request), tenant_of(request), caller_in(request)
    try:
        unit = await unit_in_scope(request, code or acting.code)
    except OutOfScope as exc:
        return refusal(request, "unit_not_here", str(exc), status=404)
    try:
        await run_in_threadpool(console.kernel.authz.require, caller.principal, unit.id, permission)
    except PermissionDenied as refused:
        record = partial(
            console.refusals.record,
            actor=caller.actor,
            tenant_ids=(acting.id, unit.id),
            action="console.refused",
            target=unit.code,
            code=refused.code,
            detail={"action": name, "permission": permission, "attempted": unit.code},
        )
        await run_in_threadpool(record)
        return refusal(request, "permission", refused.message, status=403, values={"unit": unit})
    return unit
