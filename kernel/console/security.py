"""Security headers on every console response (pages, redirects, static files, error pages).

- ``Content-Security-Policy``: everything from this origin only, no inline script or style
  (``'unsafe-inline'`` is never allowed: the console's pages carry no inline script, and an injected
  ``<script>`` would not run), no plugins (``object-src 'none'``), no ``<base>`` rewriting, forms
  post only here, and no framing (``frame-ancestors 'none'``).
- ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors`` (clickjacking).
- ``X-Content-Type-Options: nosniff``: a file is what its type says.
- ``Referrer-Policy: same-origin``: unit codes and search terms in our URLs do not leave the site.
- ``Cache-Control: no-store`` on pages (not on static files): a signed-in page must not stay in a
  shared or back-button cache after sign-out.
- ``Cross-Origin-Opener-Policy`` and ``Permissions-Policy`` close the windows and devices a page
  never needs.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
STATIC_PREFIX: Final = "/console/static/"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
