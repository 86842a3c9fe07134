"""Roles under ``/t/{code}/console/roles``: the roles visible at the unit, and custom roles built
only from permissions the administrator holds there.

- ``GET  /roles``      every role visible at the unit (the platform's templates, and the custom roles
  defined there or above) with its permissions, marked where one could not hand it out, and why
- ``GET  /roles/new``, ``POST /roles/new``  ``role.create``: name, description, permissions — those
  one does not hold are shown but cannot be chosen; a forged post naming one is refused by the
  authoriser (``authz.escalation``, audited) with the reason on the page → 303 to the list
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.authz.permissions import GRANTS_MANAGE, ROLES_MANAGE
from nentang.kernel.console import actions, messages, people_data
from nentang.kernel.console.forms import FieldError, form_values, form_with_choices
from nentang.kernel.console.pages import caller_in, console_of, redirect, refusal, render
from nentang.kernel.console.pages import tenant_url as url
from nentang.kernel.http.state import tenant_of
from nentang.sdk.errors import NentangError, ValidationFailed

READERS = frozenset({GRANTS_MANAGE, ROLES_MANAGE})


async def role_list(request: Request) -> Response:
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    offers = await run_in_threadpool(people_data.role_offers, kernel, caller.principal, acting, READERS)
    if not offers:
        return refusal(
            request, "permission", f"kernel.roles.manage @ {acting.code}", status=403, values={"unit": acting}
        )
    may_create = kernel.authz.check(caller.principal, acting.id, ROLES_MANAGE)
    return render(request, "roles.html", {"offers": offers, "may_create": may_create})


async def _form(request: Request, fields: dict[str, str], chosen: list[str], errors: list[FieldError], status: int):  # type: ignore[no-untyped-def]
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    choices = await run_in_threadpool(people_data.permission_choices, kernel, caller.principal, acting)
    values = {
        "choices": choices,
        **form_values(fields, chosen, errors),
    }
    return render(request, "role_new.html", values, status=status)


async def new_role_form(request: Request) -> Response:
    return await _form(request, {}, [], [], 200)


async def create_role(request: Request) -> Response:
    acting = tenant_of(request)
    try:
        fields, chosen = await form_with_choices(request, "permissions")
    except ValidationFailed as exc:
        return await _form(request, {}, [], [FieldError("", exc.message)], 400)
    arguments = {
        "tenant_id": acting.id,
        "name": fields.get("name", "").strip(),
        "permissions": chosen,
        "description": fields.get("description", "").strip(),
    }

    async def failed(exc: NentangError) -> Response:
        field = "permissions" if "permission" in exc.code else "name"
        errors = [FieldError(field, messages.translated(request, exc))]
        return await _form(request, fields, chosen, errors, messages.status_of(exc))

    def done(_role: object) -> Response:
        return redirect(request, url(acting.code, "roles", done="role.create"))

    return await actions.answer(request, "role.create", acting, done=done, failed=failed, **arguments)


routes = [
    Route("/roles", role_list, methods=["GET"]),
    Route("/roles/new", new_role_form, methods=["GET"]),
    Route("/roles/new", create_role, methods=["POST"]),
]
