"""Units pages under ``/t/{code}/console/``: overview, the tree, a unit's page, provision, suspend.

- ``GET  /``                         overview of the acting unit
- ``GET  /units[?parent=X&after=C]`` the children of X (default: the acting unit), a page at a time,
  each with its count of units below and a link that opens that level (lazy expansion)
- ``GET  /units?q=text[&after=D:C]`` search the acting unit's subtree by code or name, paged
- ``GET  /units/{unit}``             a unit's page (its trail from the acting unit, status, acts)
- ``GET  /units/{unit}/new``         the form provisioning a unit below ``unit``
- ``POST /units/{unit}/new``         ``unit.create`` → 303 to the new unit's page
- ``POST /units/{unit}/suspend``     ``unit.suspend`` (with a reason) → 303 to the unit's page
- ``POST /units/{unit}/reactivate``  ``unit.reactivate`` → 303 to the unit's page

A unit named in a path is looked up only inside the acting unit's subtree: anything else is the
same 404 page as an unknown code (and, for a post, audited ``console.refused``), so a forged post
naming another unit's code learns nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial, wraps

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.console import actions, messages, unit_data
from nentang.kernel.console.forms import FieldError, errors_by_field, form_of
from nentang.kernel.console.pages import CONSOLE_HOME, PAGE_SIZE, caller_in, console_of, redirect, refusal, render
from nentang.kernel.console.pages import tenant_url as url
from nentang.kernel.http.state import tenant_of
from nentang.kernel.tenancy.models import ALLOWED_PARENTS, TenantKind
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NentangError, TenantNotFound, ValidationFailed

MAX_QUERY = 100


class OutOfScope(Exception):
    """A unit code that names nothing inside the acting unit's subtree."""


async def unit_in_scope(request: Request, code: str) -> TenantInfo:
    console, acting = console_of(request), tenant_of(request)
    try:
        unit: TenantInfo = await run_in_threadpool(console.kernel.tenants.get, code)
    except TenantNotFound:
        raise OutOfScope(code) from None
    if unit_data.in_scope(acting, unit):
        return unit
    if request.method != "GET":  # a forged post: its target's administrators hear of it
        record = partial(
            console.refusals.record,
            actor=caller_in(request).actor,
            tenant_ids=(acting.id, unit.id),
            action="console.refused",
            target=unit.code,
            code="tenant.out_of_scope",
            detail={"path": request.url.path, "attempted": unit.code},
        )
        await run_in_threadpool(record)
    raise OutOfScope(code)


def _not_here(request: Request, code: str) -> Response:
    return refusal(request, "unit_not_here", code, status=404)


UnitHandler = Callable[[Request, TenantInfo], Awaitable[Response]]


def with_unit(handler: UnitHandler) -> Callable[[Request], Awaitable[Response]]:
    """A route whose ``{unit}`` is looked up in the acting unit's subtree first (else the 404 page)."""

    @wraps(handler)
    async def route(request: Request) -> Response:
        try:
            unit = await unit_in_scope(request, request.path_params["unit"])
        except OutOfScope as exc:
            return _not_here(request, str(exc))
        return await handler(request, unit)

    return route


async def overview(request: Request) -> Response:
    console, tenant = console_of(request), tenant_of(request)
    caller = caller_in(request)
    below = await run_in_threadpool(unit_data.child_count, console.kernel, tenant)

    def held() -> list[str]:
        with console.kernel.db.platform() as session:
            return sorted(console.kernel.authz.permissions_in(session, caller.principal, tenant.id))

    return render(request, "overview.html", {"below": below, "permissions": await run_in_threadpool(held)})


async def unit_list(request: Request) -> Response:
    console, acting = console_of(request), tenant_of(request)
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    after = request.query_params.get("after", "")
    if query:
        cursor = unit_data.parse_after(after)
        page = await run_in_threadpool(unit_data.search_page, console.kernel, acting, query, cursor, PAGE_SIZE)
        return render(request, "units.html", {"page": page, "query": query, "parent": None, "trail": []})
    try:
        parent = await unit_in_scope(request, request.query_params.get("parent") or acting.code)
    except OutOfScope as exc:
        return _not_here(request, str(exc))
    page = await run_in_threadpool(unit_data.children_page, console.kernel, parent, after, PAGE_SIZE)
    trail = await run_in_threadpool(unit_data.trail, console.kernel, acting, parent)
    return render(request, "units.html", {"page": page, "query": "", "parent": parent, "trail": trail})


async def unit_page(
    request: Request, unit: TenantInfo, *, errors: list[FieldError] | None = None, status: int = 200
) -> Response:
    console, acting = console_of(request), tenant_of(request)
    kernel, principal = console.kernel, caller_in(request).principal
    values = {
        "unit": unit,
        "trail": await run_in_threadpool(unit_data.trail, kernel, acting, unit),
        "below": await run_in_threadpool(unit_data.child_count, kernel, unit),
        "may_create": kernel.authz.check(principal, unit.id, actions.ACTIONS["unit.create"].permission),
        "may_manage": kernel.authz.check(principal, unit.id, actions.ACTIONS["unit.suspend"].permission),
        "serving": await run_in_threadpool(kernel.tenants.is_serving, unit),
        "errors": errors or [],
    }
    return render(request, "unit.html", values, status=status)


def _kinds_below(parent: TenantInfo) -> list[str]:
    return [kind.value for kind, parents in ALLOWED_PARENTS.items() if parent.kind in parents]


async def new_unit_form(request: Request, parent: TenantInfo) -> Response:
    return _new_form(request, parent, {}, [], 200)


def _new_form(
    request: Request, parent: TenantInfo, fields: dict[str, str], errors: list[FieldError], status: int
) -> Response:
    values = {
        "parent": parent,
        "kinds": _kinds_below(parent),
        "fields": fields,
        "errors": errors,
        "field_errors": errors_by_field(errors),
    }
    return render(request, "unit_new.html", values, status=status)


async def create_unit(request: Request, parent: TenantInfo) -> Response:
    acting = tenant_of(request)
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        return _new_form(request, parent, {}, [FieldError("", exc.message)], 400)
    kinds = _kinds_below(parent)
    kind = fields.get("kind") or (kinds[0] if kinds else TenantKind.UNIT.value)
    arguments = {
        "code": fields.get("code", "").strip(),
        "name": fields.get("name", "").strip(),
        "kind": kind,
        "parent_code": parent.code,
        "division_type": fields.get("division_type", "").strip() or None,
    }

    def failed(exc: NentangError) -> Response:
        errors = [messages.unit_field_error(request, exc, arguments["code"])]
        return _new_form(request, parent, fields, errors, messages.status_of(exc))

    def done(created: TenantInfo) -> Response:
        return redirect(request, url(acting.code, "units", created.code, created="1"))

    return await actions.answer(request, "unit.create", parent, done=done, failed=failed, **arguments)


async def _change_status(request: Request, unit: TenantInfo, action: str) -> Response:
    acting = tenant_of(request)
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        return await unit_page(request, unit, errors=[FieldError("", exc.message)], status=400)
    arguments = {"reason": fields.get("reason", "").strip()[:500]} if action == "unit.suspend" else {}

    async def failed(exc: NentangError) -> Response:
        errors = [FieldError("", messages.translated(request, exc))]
        return await unit_page(request, unit, errors=errors, status=messages.status_of(exc))

    def done(_changed: TenantInfo) -> Response:
        if unit.id == acting.id and action == "unit.suspend":
            return redirect(request, f"{CONSOLE_HOME}?choose=1")  # the acting unit itself no longer serves
        return redirect(request, url(acting.code, "units", unit.code, done=action))

    return await actions.answer(request, action, unit, done=done, failed=failed, code=unit.code, **arguments)


async def suspend_unit(request: Request, unit: TenantInfo) -> Response:
    return await _change_status(request, unit, "unit.suspend")


async def reactivate_unit(request: Request, unit: TenantInfo) -> Response:
    return await _change_status(request, unit, "unit.reactivate")


routes = [
    Route("/", overview, methods=["GET"]),
    Route("/units", unit_list, methods=["GET"]),
    Route("/units/{unit}", with_unit(unit_page), methods=["GET"]),
    Route("/units/{unit}/new", with_unit(new_unit_form), methods=["GET"]),
    Route("/units/{unit}/new", with_unit(create_unit), methods=["POST"]),
    Route("/units/{unit}/suspend", with_unit(suspend_unit), methods=["POST"]),
    Route("/units/{unit}/reactivate", with_unit(reactivate_unit), methods=["POST"]),
]
