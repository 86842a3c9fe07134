"""CSRF protection for every console form, checked once for the whole console by this middleware.

Two kinds of token, one field (``csrf_token``, the name the kernel's API uses too):

- **Signed in**: the session's own CSRF token (``web_session.csrf_token``), bound to the session on
  the server. A page embeds it in each form; a post without it, or with another, is refused.
- **Not signed in** (the sign-in form: login CSRF would sign a victim into the attacker's account):
  a double-submit token. The first page sets a random ``nentang_console_csrf`` cookie
  (HttpOnly, SameSite=Strict) and embeds the same value in the form; a post must send both, equal.
  A cross-site page can neither read the cookie nor make the browser send it.

A refusal is a 403 page that says what happened and what to do (reload the page and send again),
and the route is never reached, so nothing changes. The kernel's authentication middleware leaves
console paths to this one (``is_console_path``), so a refusal is a page, not JSON.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from nentang.kernel.http.middleware.authentication import UNSAFE_METHODS, csrf_token_sent
from nentang.kernel.http.state import CALLER_KEY
from nentang.kernel.identity.caller import Caller

PRE_SESSION_COOKIE: Final = "nentang_console_csrf"
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_CONSOLE_PATH: Final = re.compile(r"^/(console|t/[^/]+/console)(/|$)")
#: Set on the request when a page handed out a new pre-session token (the response sets the cookie).
NEW_TOKEN_KEY: Final = "nentang.console.new_csrf"


def is_console_path(path: str) -> bool:
    """Whether the console (and so this middleware) answers ``path``."""
    return _CONSOLE_PATH.match(path) is not None


def form_token(request: Request) -> str:
    """The token a page embeds in its forms for this browser."""
    caller = request.scope.get(CALLER_KEY)
    if isinstance(caller, Caller) and caller.session is not None:
        return caller.session.csrf_token
    existing = request.cookies.get(PRE_SESSION_COOKIE, "")
    if _TOKEN.match(existing):
        return existing
    fresh = request.scope.get(NEW_TOKEN_KEY)
    if not isinstance(fresh, str):
        fresh = request.scope[NEW_TOKEN_KEY] = secrets.token_urlsafe(32)
    return fresh


def expected_tokens(scope: Scope) -> list[str]:
    """The tokens a post from this browser may carry: the session's, else the pre-session cookie's."""
    caller = scope.get(CALLER_KEY)
    if isinstance(caller, Caller) and caller.session is not None:
        return [caller.session.csrf_token]
    cookie = Request(scope).cookies.get(PRE_SESSION_COOKIE, "")
    return [cookie] if _TOKEN.match(cookie) else []


#: Answers a refused post: (request, "missing" | "wrong") -> the 403 page.
Refuse = Callable[[Request, str], Awaitable[Response]]


class ConsoleCsrfMiddleware:
    def __init__(self, app: ASGIApp, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        sent, receive = await csrf_token_sent(scope, Headers(scope=scope), receive)
        expected = expected_tokens(scope)
        if sent is None or not any(hmac.compare_digest(sent.encode(), e.encode()) for e in expected):
            why = "missing" if sent is None else "wrong"
            response = await self.refuse(Request(scope, receive), why)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
