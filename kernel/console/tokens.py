"""API tokens for integrators under ``/t/{code}/console/tokens``: list, create (the secret shown once),
revoke. Only the acting unit's tokens, and only for someone holding ``kernel.tokens.manage`` there.

- ``GET  /tokens[?after=id]``      the unit's tokens, oldest first, never their secrets
- ``GET  /tokens/new``, ``POST /tokens/new``  ``token.create``: name, roles (only those one may hand
  out, the rest listed with why), lifetime in days; the answer shows the secret this once (like a
  generated password, it is kept nowhere to show again; sending again finds the name taken)
- ``POST /tokens/{id}/revoke``     ``token.revoke`` → 303 to the list
"""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.authz.permissions import TOKENS_MANAGE
from nentang.kernel.console import actions, messages, people_data
from nentang.kernel.console.forms import FieldError, form_values, form_with_choices
from nentang.kernel.console.pages import PAGE_SIZE, caller_in, console_of, redirect, refusal, render
from nentang.kernel.console.pages import tenant_url as url
from nentang.kernel.http.state import tenant_of
from nentang.kernel.identity.tokens import CreatedToken
from nentang.sdk.errors import NentangError, ValidationFailed

DEFAULT_DAYS = 90


def _refused(request: Request) -> Response | None:
    acting = tenant_of(request)
    if console_of(request).kernel.authz.check(caller_in(request).principal, acting.id, TOKENS_MANAGE):
        return None
    return refusal(request, "permission", f"kernel.tokens.manage @ {acting.code}", status=403, values={"unit": acting})


async def token_list(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    after = request.query_params.get("after", "")
    read = partial(kernel.tokens.list, caller.actor, acting.code, limit=PAGE_SIZE + 1, after=int(after or 0))
    rows = await run_in_threadpool(read) if after.isdigit() or not after else []
    next_after = str(rows[PAGE_SIZE - 1].id) if len(rows) > PAGE_SIZE else None
    return render(request, "tokens.html", {"tokens": rows[:PAGE_SIZE], "next_after": next_after})


async def _form(request: Request, fields: dict[str, str], chosen: list[str], errors: list[FieldError], status: int):  # type: ignore[no-untyped-def]
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    offers = await run_in_threadpool(people_data.role_offers, kernel, caller.principal, acting)
    values = {
        "offers": offers,
        "default_days": DEFAULT_DAYS,
        **form_values(fields, chosen, errors),
    }
    return render(request, "token_new.html", values, status=status)


async def new_token_form(request: Request) -> Response:
    return _refused(request) or await _form(request, {}, [], [], 200)


async def create_token(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    acting = tenant_of(request)
    try:
        fields, chosen = await form_with_choices(request, "roles")
    except ValidationFailed as exc:
        return await _form(request, {}, [], [FieldError("", exc.message)], 400)
    days = fields.get("days", "").strip()
    if not days.isdigit():
        errors = [FieldError("days", messages.text(request, messages.DAYS_NOT_A_NUMBER))]
        return await _form(request, fields, chosen, errors, 400)
    arguments = {"tenant_code": acting.code, "name": fields.get("name", "").strip(), "roles": chosen}

    async def failed(exc: NentangError) -> Response:
        field = {"token.name_taken": "name", "token.bad_name": "name", "token.bad_expiry": "days"}.get(
            exc.code, "roles"
        )
        errors = [FieldError(field, messages.translated(request, exc))]
        return await _form(request, fields, chosen, errors, messages.status_of(exc))

    def done(created: CreatedToken) -> Response:
        return render(request, "token_created.html", {"token": created.token, "secret": created.plaintext})

    return await actions.answer(
        request, "token.create", acting, done=done, failed=failed, expires_in_days=int(days), **arguments
    )


async def revoke_token(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    kernel, acting, caller = console_of(request).kernel, tenant_of(request), caller_in(request)
    wanted = str(request.path_params["token"])
    tokens = await run_in_threadpool(kernel.tokens.list, caller.actor, acting.code)
    found = next((t for t in tokens if str(t.id) == wanted and t.revoked_at is None), None)
    if found is None:
        return refusal(request, "token_not_here", wanted, status=404)

    def failed(exc: NentangError) -> Response:
        return refusal(request, "token_not_here", wanted, status=messages.status_of(exc))

    def done(_revoked: object) -> Response:
        return redirect(request, url(acting.code, "tokens", done="token.revoke"))

    return await actions.answer(request, "token.revoke", acting, done=done, failed=failed, token_id=found.id)


routes = [
    Route("/tokens", token_list, methods=["GET"]),
    Route("/tokens/new", new_token_form, methods=["GET"]),
    Route("/tokens/new", create_token, methods=["POST"]),
    Route("/tokens/{token}/revoke", revoke_token, methods=["POST"]),
]
