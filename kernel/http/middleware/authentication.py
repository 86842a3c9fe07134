"""Resolve who is calling — a bearer token or a session cookie — and enforce CSRF for cookie callers.

Every HTTP request leaves this middleware with a :class:`Caller` in its scope (read it with
``caller_of(request)``), anonymous when no credential was presented or the cookie is no longer
valid. Deciding *what* the caller may do is not done here: routes ask the authoriser.

- ``Authorization: Bearer <token>`` wins over a cookie. A malformed, unknown, revoked or expired
  token is refused at once with 401, a JSON error with its code, and
  ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750): an integrator must learn that its
  credential is bad rather than silently continue as anonymous.
- A session cookie that resolves to a live session makes the caller a user. Because the browser
  sends that cookie on its own (an ambient credential), every unsafe request (POST, PUT, PATCH,
  DELETE) authenticated by it must carry the session's CSRF token, in the ``X-CSRF-Token`` header or
  as the ``csrf_token`` field of a URL-encoded form; otherwise 403 ``auth.csrf``. Bearer requests are
  exempt: a cross-site page cannot make a browser attach an Authorization header.
- Paths in ``csrf_exempt_paths`` (sign-in) are not checked: they do not act with the session. Paths
  for which ``csrf_checked_elsewhere`` says yes (the web console's) are checked by their own
  middleware, which wraps every route of that mount and answers with a page, not JSON.
- A valid credential of a suspended tenant is refused with 403 ``auth.tenant_suspended``: a session
  whose user's home tenant (or an ancestor of it) is suspended, a token whose tenant (or an ancestor)
  is. The answer comes from the worker's :class:`~nentang.kernel.tenancy.serving.ServingTenants`,
  re-read after any change to the tree: a suspension refuses the next request on the worker that
  made it, and on the others within the propagation delay (well under a second). Each such refusal
  is a security event, audited in the credential's tenant (at most once a minute per principal and
  worker, ``identity/refusals.py``).

The hot path of an integrator — a token verified here lately, its tenant known to serve — is
answered on the event loop from memory (:meth:`TokenService.authenticate_known`); anything else
goes to a worker thread and the database.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final
from urllib.parse import parse_qs

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nentang.kernel.http.errors import error_response
from nentang.kernel.http.state import CALLER_KEY
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.caller import Caller
from nentang.kernel.identity.refusals import SuspendedRefusals
from nentang.kernel.identity.sessions import ActiveSession
from nentang.kernel.identity.tokens import TokenInfo
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import PermissionDenied

UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "csrf_token"
FORM_TYPE: Final = "application/x-www-form-urlencoded"
#: The largest form body read here to find the CSRF field; bigger posts send the header instead.
MAX_FORM_BYTES: Final = 1024 * 1024
DEFAULT_CSRF_EXEMPT: Final = frozenset({"/auth/login"})


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        kernel: Kernel,
        csrf_exempt_paths: Iterable[str] = DEFAULT_CSRF_EXEMPT,
        csrf_checked_elsewhere: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.kernel = kernel
        self.cookie_name = kernel.settings.identity.session_cookie_name
        self.csrf_exempt_paths = frozenset(csrf_exempt_paths)
        self.csrf_checked_elsewhere = csrf_checked_elsewhere
        #: Valid credentials refused for a suspended tenant are security events: audited (deduplicated).
        self.refusals = SuspendedRefusals(kernel.db, kernel.audit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        if authorization is not None:
            caller = await self._bearer(scope, authorization)
            if isinstance(caller, JSONResponse):
                await caller(scope, receive, send)
                return
        else:
            caller = await self._cookie(scope, headers)
            if isinstance(caller, JSONResponse):
                await caller(scope, receive, send)
                return
            if caller.session is not None and self._needs_csrf(scope):
                sent, receive = await csrf_token_sent(scope, headers, receive)
                if sent is None or not hmac.compare_digest(sent.encode(), caller.session.csrf_token.encode()):
                    why = "missing" if sent is None else "wrong"
                    message = (
                        f"CSRF token {why}: a signed-in browser request that changes something must send the "
                        f"session's CSRF token in the X-CSRF-Token header or the {CSRF_FIELD} form field"
                    )
                    await error_response(scope, "auth.csrf", message, 403)(scope, receive, send)
                    return
        scope[CALLER_KEY] = caller
        if caller.authenticated:
            structlog.contextvars.bind_contextvars(principal=caller.principal)
        await self.app(scope, receive, send)

    async def _bearer(self, scope: Scope, authorization: str) -> Caller | JSONResponse:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return _unauthorized(
                scope,
                "auth.unsupported_scheme",
                "send the API token as 'Authorization: Bearer <token>'",
                "invalid_request",
            )
        plaintext = credentials.strip()
        token = self.kernel.tokens.authenticate_known(plaintext)
        serving = self.kernel.serving.known(token.tenant_id) if token is not None else None
        if token is not None and serving is not None:
            stopped = None if serving[1] else serving[0].code
        else:
            try:
                token, stopped = await run_in_threadpool(self._token, plaintext)
            except PermissionDenied as exc:
                return _unauthorized(scope, exc.code, exc.message, "invalid_token")
        if stopped is not None:
            await self._audit_refusal(scope, token.actor, token.tenant_id, stopped)
            return _suspended(scope, f"the API token's tenant {stopped!r} is suspended (or under a suspended tenant)")
        return Caller.of_token(token)

    async def _cookie(self, scope: Scope, headers: Headers) -> Caller | JSONResponse:
        raw = headers.get("cookie")
        value = cookie_parser(raw).get(self.cookie_name) if raw else None
        if not value:
            return Caller.anonymous()
        active, stopped = await run_in_threadpool(self._session, value)
        if active is None:
            return Caller.anonymous()
        if stopped is not None:
            await self._audit_refusal(scope, active.user.actor, active.user.home_tenant_id, stopped)
            return _suspended(
                scope,
                f"the home tenant {stopped!r} of {active.user.username!r} is suspended (or under a suspended "
                "tenant); the account is paused until it is reactivated",
            )
        return Caller.of_session(active)

    def _needs_csrf(self, scope: Scope) -> bool:
        if scope["method"] not in UNSAFE_METHODS or scope["path"] in self.csrf_exempt_paths:
            return False
        return self.csrf_checked_elsewhere is None or not self.csrf_checked_elsewhere(scope["path"])

    async def _audit_refusal(self, scope: Scope, actor: Actor, tenant_id: int, suspended: str) -> None:
        record = partial(
            self.refusals.record,
            actor=actor,
            tenant_id=tenant_id,
            suspended=suspended,
            method=scope["method"],
            path=scope["path"],
        )
        await run_in_threadpool(record)

    def _token(self, plaintext: str) -> tuple[TokenInfo, str | None]:
        token = self.kernel.tokens.authenticate(plaintext)
        return token, self._suspended_tenant(token.tenant_id)

    def _session(self, cookie_value: str) -> tuple[ActiveSession | None, str | None]:
        active = self.kernel.sessions.resolve(cookie_value)
        return active, (self._suspended_tenant(active.user.home_tenant_id) if active is not None else None)

    def _suspended_tenant(self, tenant_id: int) -> str | None:
        """The tenant's code if it (or an ancestor) is suspended, else ``None``."""
        tenant, serving = self.kernel.serving.get(tenant_id)
        return None if serving else tenant.code


def _unauthorized(scope: Scope, code: str, message: str, error: str) -> JSONResponse:
    description = message.replace('"', "'").replace("\\", "/")
    challenge = f'Bearer error="{error}", error_description="{description}"'
    return error_response(scope, code, message, 401, {"WWW-Authenticate": challenge})


def _suspended(scope: Scope, message: str) -> JSONResponse:
    return error_response(scope, "auth.tenant_suspended", message, 403)


async def csrf_token_sent(scope: Scope, headers: Headers, receive: Receive) -> tuple[str | None, Receive]:
    """The CSRF token the request carries, and a ``receive`` that still yields the whole body
    (reading a form to find the field must not take the body away from the route)."""
    sent = headers.get(CSRF_HEADER)
    if sent is not None:
        return sent, receive
    if headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return None, receive
    body, more, replay = bytearray(), True, list[Message]()
    while more:
        message = await receive()
        replay.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_FORM_BYTES:
            return None, _replaying(replay, receive)
    values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD)
    return (values[0] if values else None), _replaying(replay, receive)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
