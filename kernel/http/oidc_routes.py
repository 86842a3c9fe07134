"""OIDC sign-in for the web UI: ``GET /auth/oidc/start`` and ``GET /auth/oidc/callback``.

The flow (authorization code with PKCE; the checks are :mod:`nentang.kernel.identity.oidc`'s and
:mod:`nentang.kernel.identity.oidc_login`'s):

1. ``/auth/oidc/start[?return_to=/a/path]`` remembers a new sign-in (state, nonce, PKCE verifier,
   ``return_to``) in the database, gives the browser a binding cookie, and answers 302 to the
   provider's authorization page. ``return_to`` must be a path on this site (else 400
   ``auth.oidc_bad_return_to``); without it the browser lands on ``/auth/me``.
2. The person signs in at the provider, which sends the browser to ``/auth/oidc/callback`` with a code
   and the state.
3. The callback consumes the sign-in for that state (once), checks it was started in this browser,
   exchanges the code, verifies the ID token, and admits the user linked to ``(issuer, subject)``.
   It then opens a web session exactly as ``POST /auth/login`` does (the same cookie, any session
   already open in this browser ended) and answers 302 to ``return_to``.

Refusals are JSON errors with codes (403; see ``oidc_login``'s docstring for the list), each audited
as ``auth.login_failed``. A callback with a repeated ``state``, ``code``, ``error`` or ``iss`` is 400
``auth.oidc_bad_callback``. The provider failing (unreachable, bad discovery or keys) is 502 with the
provider's code. With no issuer configured both routes answer 404 ``auth.oidc_not_configured``.

Why GET without an Origin check (unlike ``POST /auth/login``): the callback is a top-level navigation
from the provider's site, which sends no Origin; what ties it to this browser is the state, found
server-side, and the binding cookie (SameSite=Lax, so it rides along on that navigation), both
compared before the code is spent. Starting a sign-in changes nothing a forged link could abuse.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from nentang.kernel.http.auth_routes import open_session, set_session_cookie
from nentang.kernel.http.errors import error_body
from nentang.kernel.http.rate_limit import RateLimit
from nentang.kernel.http.state import kernel_of
from nentang.kernel.identity.oidc_login import safe_return_to
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NentangError, PermissionDenied

#: The cookie that binds a sign-in in progress to the browser that started it.
BROWSER_COOKIE: Final = "nentang_oidc_login"
#: Only the OIDC routes need the binding cookie.
COOKIE_PATH: Final = "/auth/oidc"
#: Callback parameters that must appear at most once.
SINGLE_PARAMS: Final = ("state", "code", "error", "iss")


async def start(request: Request) -> Response:
    kernel = kernel_of(request)
    oidc = kernel.oidc
    if oidc is None:
        return _not_configured()
    client = request.client.host if request.client else "unknown"
    limit: RateLimit = request.app.state.oidc_start_limit
    wait = limit.wait_for(client)
    if wait > 0:
        seconds = math.ceil(wait)
        message = f"too many sign-ins started from this address; try again in {seconds} s"
        return JSONResponse(
            error_body("auth.rate_limited", message), status_code=429, headers={"Retry-After": str(seconds)}
        )
    return_to = safe_return_to(request.query_params.get("return_to"))
    try:
        started = await run_in_threadpool(
            partial(oidc.start, return_to=return_to, browser_secret=request.cookies.get(BROWSER_COOKIE))
        )
    except NentangError as exc:
        return _provider_fault(exc)
    response = RedirectResponse(started.authorization_url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser_secret,
        max_age=int(oidc.settings.login_timeout_seconds),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=kernel.sessions.cookie_secure(scheme=request.url.scheme, host=request.url.hostname or ""),
    )
    return response


def start_limit(kernel: Kernel) -> RateLimit | None:
    """The limit on sign-ins started per client, for ``create_app`` to keep on the app (one per
    app, nothing global); ``None`` without OIDC."""
    return RateLimit(kernel.oidc.settings.starts_per_minute, 60.0) if kernel.oidc is not None else None


async def callback(request: Request) -> Response:
    kernel = kernel_of(request)
    oidc = kernel.oidc
    if oidc is None:
        return _not_configured()
    repeated = [name for name in SINGLE_PARAMS if len(request.query_params.getlist(name)) > 1]
    if repeated:
        message = f"the callback repeats {', '.join(repeated)}; start again from /auth/oidc/start"
        return JSONResponse(error_body("auth.oidc_bad_callback", message), status_code=400)
    client = request.client.host if request.client else None
    try:
        signed_in = await run_in_threadpool(
            partial(
                oidc.complete,
                dict(request.query_params),
                browser_secret=request.cookies.get(BROWSER_COOKIE),
                client=client,
            )
        )
    except PermissionDenied as exc:
        return JSONResponse(error_body(exc.code, exc.message), status_code=403, headers={"Cache-Control": "no-store"})
    except NentangError as exc:
        return _provider_fault(exc)
    opened = await open_session(request, signed_in.user)
    response = RedirectResponse(signed_in.return_to, status_code=302, headers={"Cache-Control": "no-store"})
    set_session_cookie(request, response, opened)
    return response


def _not_configured() -> JSONResponse:
    message = "OIDC sign-in is not configured here (set NENTANG_OIDC_ISSUER and the other NENTANG_OIDC_* variables)"
    return JSONResponse(error_body("auth.oidc_not_configured", message), status_code=404)


def _provider_fault(exc: NentangError) -> JSONResponse:
    """The identity provider failed (not the person signing in): 502 with the provider's code."""
    return JSONResponse(error_body(exc.code, exc.message), status_code=502)


routes = [
    Route("/auth/oidc/start", start, methods=["GET"]),
    Route("/auth/oidc/callback", callback, methods=["GET"]),
]
