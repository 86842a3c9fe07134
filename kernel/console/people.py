"""People pages under ``/t/{code}/console/``: a unit's users, a person's page, roles granted and revoked.

- ``GET  /people[?unit=X&subtree=1&q=text&after=name]`` users homed at X (default: the acting unit)
- ``GET  /people/new[?unit=X]``, ``POST /people/new``  ``user.create`` (a generated password is shown
  once, on the answer to the post: the one page not reached by redirect, since the password is kept
  nowhere to show it again; sending it again finds the username taken and creates nothing)
- ``GET  /people/{username}``  the person: home unit, status, grants within reach, what may be granted
- ``POST /people/{username}/disable`` | ``/enable``  ``user.disable`` / ``user.enable``
- ``POST /people/{username}/grants``  ``grant.create`` (role, unit) → 303 to the person's page
- ``POST /people/{username}/grants/{grant}/revoke``  ``grant.revoke`` → 303

A person is found only if homed inside the acting unit's subtree and visible to the signed-in person
(``kernel.users.read`` or ``.manage`` at the home unit); anyone else is the same 404 as a name nobody
holds, and a post naming them is audited by the user service (``user.refused``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial, wraps

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.authz.permissions import USERS_MANAGE, USERS_READ
from nentang.kernel.console import actions, messages, people_data, unit_data
from nentang.kernel.console.forms import FieldError, errors_by_field, form_of
from nentang.kernel.console.pages import PAGE_SIZE, caller_in, console_of, redirect, refusal, render
from nentang.kernel.console.pages import tenant_url as url
from nentang.kernel.console.units import OutOfScope, unit_in_scope
from nentang.kernel.http.state import tenant_of
from nentang.kernel.identity import bootstrap
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NentangError, NotFound, PermissionDenied, ValidationFailed

MAX_QUERY = 100


def _may(request: Request, permission: str, unit: TenantInfo) -> bool:
    return console_of(request).kernel.authz.check(caller_in(request).principal, unit.id, permission)


async def person_in_scope(request: Request, username: str) -> tuple[UserInfo, TenantInfo]:
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    try:
        user: UserInfo = await run_in_threadpool(kernel.users.get, username)
    except NotFound:
        raise OutOfScope(username) from None
    home: TenantInfo = await run_in_threadpool(kernel.tenants.get_by_id, user.home_tenant_id)
    visible = _may(request, USERS_READ, home) or _may(request, USERS_MANAGE, home)
    if unit_data.in_scope(acting, home) and visible:
        return user, home
    if request.method != "GET":
        await run_in_threadpool(kernel.users.audit_out_of_reach, caller.actor, user, request.url.path)
    raise OutOfScope(username)


PersonHandler = Callable[[Request, UserInfo, TenantInfo], Awaitable[Response]]


def with_person(handler: PersonHandler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def route(request: Request) -> Response:
        try:
            user, home = await person_in_scope(request, request.path_params["username"])
        except OutOfScope as exc:
            return refusal(request, "person_not_here", str(exc), status=404)
        return await handler(request, user, home)

    return route


async def _unit_named(request: Request, code: str | None) -> TenantInfo:
    return await unit_in_scope(request, code or tenant_of(request).code)


async def people_list(request: Request) -> Response:
    kernel = console_of(request).kernel
    try:
        unit = await _unit_named(request, request.query_params.get("unit"))
    except OutOfScope as exc:
        return refusal(request, "unit_not_here", str(exc), status=404)
    if not (_may(request, USERS_READ, unit) or _may(request, USERS_MANAGE, unit)):
        return refusal(request, "permission", f"kernel.users.read @ {unit.code}", status=403, values={"unit": unit})
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    subtree = request.query_params.get("subtree") == "1"
    read = partial(
        people_data.users_page,
        kernel,
        unit,
        subtree=subtree,
        text=query,
        after=request.query_params.get("after", ""),
        limit=PAGE_SIZE,
    )
    values = {"unit": unit, "page": await run_in_threadpool(read), "query": query, "subtree": subtree}
    return render(request, "people.html", {**values, "may_create": _may(request, USERS_MANAGE, unit)})


async def person_page(
    request: Request, user: UserInfo, home: TenantInfo, *, errors: list[FieldError] | None = None, status: int = 200
) -> Response:
    kernel, acting, principal = console_of(request).kernel, tenant_of(request), caller_in(request).principal
    values = {
        "person": user,
        "home": home,
        "grants": await run_in_threadpool(people_data.grants_of, kernel, user, acting),
        "offers": await run_in_threadpool(people_data.role_offers, kernel, principal, acting),
        "may_manage": _may(request, USERS_MANAGE, home),
        "errors": errors or [],
        "field_errors": errors_by_field(errors or []),
    }
    return render(request, "person.html", values, status=status)


async def new_person_form(request: Request) -> Response:
    try:
        unit = await _unit_named(request, request.query_params.get("unit"))
    except OutOfScope as exc:
        return refusal(request, "unit_not_here", str(exc), status=404)
    return _new_form(request, unit, {}, [], 200)


def _new_form(request: Request, unit: TenantInfo, fields: dict[str, str], errors: list[FieldError], status: int):  # type: ignore[no-untyped-def]
    values = {"unit": unit, "fields": fields, "errors": errors, "field_errors": errors_by_field(errors)}
    return render(request, "person_new.html", values, status=status)


async def create_person(request: Request) -> Response:
    try:
        fields = await form_of(request)
        unit = await _unit_named(request, fields.get("unit"))
    except ValidationFailed as exc:
        return _new_form(request, tenant_of(request), {}, [FieldError("", exc.message)], 400)
    except OutOfScope as exc:
        return refusal(request, "unit_not_here", str(exc), status=404)
    generated = bootstrap.generate_password() if fields.get("password") == "generate" else None
    arguments = {
        "username": fields.get("username", "").strip().lower(),
        "display_name": fields.get("display_name", "").strip(),
        "home_tenant_code": unit.code,
        "password": generated,
        "email": fields.get("email", "").strip() or None,
    }

    def failed(exc: NentangError) -> Response:
        return _new_form(request, unit, fields, [messages.user_field_error(request, exc)], messages.status_of(exc))

    def done(created: UserInfo) -> Response:
        return render(request, "person_created.html", {"person": created, "unit": unit, "password": generated})

    return await actions.answer(request, "user.create", unit, done=done, failed=failed, **arguments)


def _back_to(request: Request, user: UserInfo, home: TenantInfo) -> actions.Failed:
    """Bad input for an act on a person's page: the page again, with the error at the top."""

    async def failed(exc: NentangError) -> Response:
        errors = [FieldError("", messages.translated(request, exc))]
        return await person_page(request, user, home, errors=errors, status=messages.status_of(exc))

    return failed


def _done(request: Request, user: UserInfo, action: str) -> Callable[[object], Response]:
    return lambda _result: redirect(request, url(tenant_of(request).code, "people", user.username, done=action))


async def _status(request: Request, user: UserInfo, home: TenantInfo, action: str) -> Response:
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        return await person_page(request, user, home, errors=[FieldError("", exc.message)], status=400)
    extra = {"reason": fields.get("reason", "").strip()[:500]} if action == "user.disable" else {}
    done, failed = _done(request, user, action), _back_to(request, user, home)
    return await actions.answer(request, action, home, done=done, failed=failed, username=user.username, **extra)


async def disable_person(request: Request, user: UserInfo, home: TenantInfo) -> Response:
    return await _status(request, user, home, "user.disable")


async def enable_person(request: Request, user: UserInfo, home: TenantInfo) -> Response:
    return await _status(request, user, home, "user.enable")


async def grant_role(request: Request, user: UserInfo, home: TenantInfo) -> Response:
    try:
        fields = await form_of(request)
        unit = await _unit_named(request, fields.get("unit", "").strip() or None)
        role = fields.get("role", "")
        await actions.run(request, "grant.create", unit, principal=user.principal, role=role, tenant_id=unit.id)
    except OutOfScope as exc:
        errors = [FieldError("unit", messages.unit_not_here(request, str(exc)))]
        return await person_page(request, user, home, errors=errors, status=404)
    except PermissionDenied as exc:
        return refusal(request, "permission", exc.message, status=403, values={"unit": tenant_of(request)})
    except NentangError as exc:
        errors = [FieldError("role", messages.translated(request, exc))]
        return await person_page(request, user, home, errors=errors, status=messages.status_of(exc))
    return redirect(request, url(tenant_of(request).code, "people", user.username, done="grant.create"))


async def revoke_grant(request: Request, user: UserInfo, home: TenantInfo) -> Response:
    kernel, acting = console_of(request).kernel, tenant_of(request)
    held = await run_in_threadpool(people_data.grants_of, kernel, user, acting)
    wanted = str(request.path_params["grant"])
    found = next((g for g in held if str(g.id) == wanted), None)
    if found is None:
        return refusal(request, "grant_not_here", wanted, status=404)
    done, failed = _done(request, user, "grant.revoke"), _back_to(request, user, home)
    return await actions.answer(request, "grant.revoke", found.unit, done=done, failed=failed, grant_id=found.id)


routes = [
    Route("/people", people_list, methods=["GET"]),
    Route("/people/new", new_person_form, methods=["GET"]),
    Route("/people/new", create_person, methods=["POST"]),
    Route("/people/{username}", with_person(person_page), methods=["GET"]),
    Route("/people/{username}/disable", with_person(disable_person), methods=["POST"]),
    Route("/people/{username}/enable", with_person(enable_person), methods=["POST"]),
    Route("/people/{username}/grants", with_person(grant_role), methods=["POST"]),
    Route("/people/{username}/grants/{grant}/revoke", with_person(revoke_grant), methods=["POST"]),
]
