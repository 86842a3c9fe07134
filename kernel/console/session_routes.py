"""Sign-in and sign-out pages, on the kernel's own services.

- ``GET /console/sign-in[?next=/t/01/console/units&expired=1]``: the form (username, password), and
  the link to the identity provider where OIDC is configured (``/auth/oidc/start``, returning to
  the console). ``expired=1`` says the session ended (set by the tenant binding when the browser
  still sent a session cookie).
- ``POST /console/sign-in``: :meth:`LoginService.authenticate` — the very check (throttling, audit,
  indistinguishable failures) behind ``POST /auth/login`` — then :func:`auth_routes.open_session`
  and the same session cookie, and 303 to ``next`` (a console path, else the unit chooser).
  Wrong credentials re-show the form with an error summary (401); throttled 429; suspended 403.
- ``POST /console/sign-out``: :func:`auth_routes.sign_out` (audited ``auth.logout``), the cookie
  cleared, 303 to the sign-in page.
- ``GET /t/{code}/console/sign-in``: the same page, returning to that unit's console.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from nentang.kernel.console.csrf import is_console_path
from nentang.kernel.console.forms import FieldError, errors_by_field, form_of
from nentang.kernel.console.i18n import locale_of
from nentang.kernel.console.pages import CONSOLE_HOME, SIGN_IN, caller_in, console_of, redirect, render
from nentang.kernel.http.auth_routes import clear_session_cookie, open_session, set_session_cookie, sign_out
from nentang.kernel.identity.login import Throttled
from nentang.kernel.identity.oidc_login import safe_return_to
from nentang.sdk.errors import PermissionDenied, ValidationFailed


def safe_next(value: str | None) -> str:
    """Where to land after sign-in: a console path on this site, else the unit chooser."""
    try:
        path = safe_return_to(value)
    except ValidationFailed:
        return CONSOLE_HOME
    return path if value and is_console_path(path.split("?")[0]) else CONSOLE_HOME


async def sign_in_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if caller_in(request).user is not None:
        return redirect(request, next_path)
    return _form(request, next_path, username="", errors=[], status=200)


async def tenant_sign_in_page(request: Request) -> Response:
    code = request.path_params["tenant"]
    return redirect(request, f"{SIGN_IN}?next=/t/{code}/console/")


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    gettext = console.catalogues.get(locale_of(request)).gettext
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        return _form(request, CONSOLE_HOME, username="", errors=[FieldError("", exc.message)], status=400)
    username, password = fields.get("username", "").strip(), fields.get("password", "")
    next_path = safe_next(fields.get("next"))
    errors = []
    if not username:
        errors.append(FieldError("username", gettext("Enter your username")))
    if not password:
        errors.append(FieldError("password", gettext("Enter your password")))
    if errors:
        return _form(request, next_path, username=username, errors=errors, status=400)
    client = request.client.host if request.client else None
    try:
        user = await run_in_threadpool(partial(console.kernel.login.authenticate, username, password, client=client))
    except Throttled as exc:
        error = FieldError("", gettext("Too many failed sign-ins. Wait a few minutes, then try again."))
        response = _form(request, next_path, username=username, errors=[error], status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except PermissionDenied as exc:
        if exc.code == "auth.tenant_suspended":
            error = FieldError("", gettext("Your unit is suspended, so you cannot sign in until it is reactivated."))
            return _form(request, next_path, username=username, errors=[error], status=403)
        error = FieldError("username", gettext("The username or password is not right"))
        return _form(request, next_path, username=username, errors=[error], status=401)
    opened = await open_session(request, user)
    response = redirect(request, next_path)
    set_session_cookie(request, response, opened)
    return response


async def sign_out_action(request: Request) -> Response:
    kernel = console_of(request).kernel
    caller = caller_in(request)
    if caller.session is not None:
        client = request.client.host if request.client else None
        await run_in_threadpool(sign_out, kernel, caller.session, client)
    response = redirect(request, f"{SIGN_IN}?signed_out=1")
    clear_session_cookie(request, response)
    return response


def _form(request: Request, next_path: str, *, username: str, errors: list[FieldError], status: int) -> Response:
    values = {
        "next": next_path,
        "username": username,
        "errors": errors,
        "field_errors": errors_by_field(errors),
        "expired": request.query_params.get("expired") == "1",
        "signed_out": request.query_params.get("signed_out") == "1",
        "oidc_url": "/auth/oidc/start?" + urlencode({"return_to": next_path}),
    }
    return render(request, "sign_in.html", values, status=status)
