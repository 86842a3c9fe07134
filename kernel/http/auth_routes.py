"""Sign-in, sign-out and "who am I" for the web UI and for integrators.

- ``POST /auth/login`` takes ``{username, password}`` as JSON or as a URL-encoded form, sets the
  session cookie (HttpOnly, SameSite=Lax, Secure per ``identity.session_cookie_secure``) and returns
  the user and the session's CSRF token. Wrong credentials → 401 ``auth.bad_credentials``; a locked
  name → 429 ``auth.throttled`` with ``Retry-After``. A sign-in posted from another origin (the
  ``Origin`` header names another site) is refused with 403 ``auth.csrf`` (login CSRF). A session
  already open in this browser is ended, so a planted session id cannot survive sign-in (fixation).
- ``POST /auth/logout`` ends the cookie's session (the middleware has already checked its CSRF token)
  and audits it (``auth.logout`` in the user's home tenant).
- ``GET /auth/me`` describes the caller: a user by session, or a token with its tenant.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nentang.kernel.http.errors import error_body
from nentang.kernel.http.request_text import text_problem
from nentang.kernel.http.state import caller_of, kernel_of
from nentang.kernel.identity.caller import Caller
from nentang.kernel.identity.login import Throttled
from nentang.kernel.identity.sessions import ActiveSession, NewSession
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import PermissionDenied, ValidationFailed

MAX_LOGIN_BODY = 16 * 1024


def user_json(user: UserInfo) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "home_tenant_id": user.home_tenant_id,
        "principal": user.principal,
    }


async def login(request: Request) -> Response:
    kernel = kernel_of(request)
    if not _same_origin(request):
        return JSONResponse(
            error_body("auth.csrf", "sign-in must be posted from this site (the Origin header names another)"),
            status_code=403,
        )
    username, password = await _credentials(request)
    client = request.client.host if request.client else None
    try:
        user = await run_in_threadpool(partial(kernel.login.authenticate, username, password, client=client))
    except Throttled as exc:
        retry = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(error_body(exc.code, exc.message), status_code=429, headers=retry)
    except PermissionDenied as exc:
        status = 403 if exc.code == "auth.tenant_suspended" else 401
        return JSONResponse(error_body(exc.code, exc.message), status_code=status)
    opened = await open_session(request, user)
    expires = opened.expires_at.isoformat() if opened.expires_at else None
    response = JSONResponse({"user": user_json(user), "csrf_token": opened.csrf_token, "expires_at": expires})
    set_session_cookie(request, response, opened)
    return response


async def open_session(request: Request, user: UserInfo) -> NewSession:
    """Open a web session for a user who has just proven who they are (any sign-in method).

    A session already open in this browser is ended first, so a planted session id cannot survive
    sign-in (fixation).
    """
    kernel = kernel_of(request)
    previous = caller_of(request).session
    if previous is not None:
        await run_in_threadpool(kernel.sessions.revoke, previous.id)
    return await run_in_threadpool(kernel.sessions.create, user.id)


def set_session_cookie(request: Request, response: Response, opened: NewSession) -> None:
    """Hand the browser its session cookie: HttpOnly, SameSite=Lax, Secure per the settings."""
    kernel = kernel_of(request)
    response.set_cookie(
        kernel.settings.identity.session_cookie_name,
        opened.cookie_value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=kernel.sessions.cookie_secure(scheme=request.url.scheme, host=request.url.hostname or ""),
    )


async def logout(request: Request) -> Response:
    kernel = kernel_of(request)
    caller = caller_of(request)
    if caller.session is None:
        return _sign_in_first("sign-out needs the session cookie of a signed-in browser")
    client = request.client.host if request.client else None
    await run_in_threadpool(sign_out, kernel, caller.session, client)
    response = JSONResponse({"status": "signed out"})
    clear_session_cookie(request, response)
    return response


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget its session cookie (after sign-out)."""
    kernel = kernel_of(request)
    response.delete_cookie(
        kernel.settings.identity.session_cookie_name,
        path="/",
        httponly=True,
        samesite="lax",
        secure=kernel.sessions.cookie_secure(scheme=request.url.scheme, host=request.url.hostname or ""),
    )


async def me(request: Request) -> Response:
    caller = caller_of(request)
    if not caller.authenticated:
        return _sign_in_first("nobody is signed in: sign in, or send 'Authorization: Bearer <token>'")
    return JSONResponse(await run_in_threadpool(_describe, request, caller))


def sign_out(kernel: Kernel, active: ActiveSession, client: str | None) -> None:
    """End the session and, if this request was the one that ended it, record the sign-out."""
    if not kernel.sessions.revoke(active.id):
        return  # a concurrent sign-out already ended (and recorded) it
    detail = {"session": active.id[:12], **({"client": client} if client else {})}
    user = active.user
    with kernel.db.platform() as session, session.begin():
        kernel.audit.append(
            session,
            tenant_id=user.home_tenant_id,
            actor=user.actor,
            action="auth.logout",
            target=user.username,
            detail=detail,
        )


def _describe(request: Request, caller: Caller) -> dict[str, object]:
    body: dict[str, object] = {"principal": caller.principal, "method": caller.method}
    if caller.user is not None:
        body["user"] = user_json(caller.user)
    if caller.session is not None:
        body["csrf_token"] = caller.session.csrf_token
        body["session_expires_at"] = caller.session.expires_at.isoformat()
    if caller.token is not None:
        tenant = kernel_of(request).tenants.get_by_id(caller.token.tenant_id)
        body["token"] = {
            "id": caller.token.id,
            "name": caller.token.name,
            "prefix": caller.token.prefix,
            "expires_at": caller.token.expires_at.isoformat(),
        }
        body["tenant"] = {"id": tenant.id, "code": tenant.code, "name": tenant.name}
    return body


def _sign_in_first(message: str) -> JSONResponse:
    return JSONResponse(error_body("auth.required", message), status_code=401)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site post (browsers send Origin on every POST)
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/").lower() == own.lower()


async def _credentials(request: Request) -> tuple[str, str]:
    body = await request.body()
    if len(body) > MAX_LOGIN_BODY:
        raise ValidationFailed("the sign-in request is too large", code="auth.bad_request")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: dict[str, Any]
    if kind == "application/json":
        try:
            parsed = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise ValidationFailed("the sign-in body is not valid JSON", code="auth.bad_request") from None
        data = parsed if isinstance(parsed, dict) else {}
    elif kind == "application/x-www-form-urlencoded":
        data = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
    else:
        raise ValidationFailed(
            "send the sign-in as JSON or as a URL-encoded form with 'username' and 'password'",
            code="auth.bad_request",
        )
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ValidationFailed("'username' and 'password' are both required, as text", code="auth.bad_request")
    for name, value in (("username", username), ("password", password)):
        problem = text_problem(value)
        if problem is not None:
            raise ValidationFailed(f"'{name}' {problem}", code="auth.bad_request")
    return username, password


routes = [
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
]
