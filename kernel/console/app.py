"""The console's two mounts, as the kernel app adds them (``kernel/http/app.py``).

- ``/console/...``: what belongs to no unit — sign-in, sign-out, the unit chooser, static files.
- ``/t/{code}/console/...``: one unit's console, bound to that unit and to a person who may stand
  there (``binding.py``). The unit is in the path, not in the session, so two tabs can work in two
  units, a link names what it shows, and the browser's history and bookmarks stay true; it is also
  the shape of every other tenant URL of the platform (``/t/{code}/``) and where plugins' pages
  will be mounted.

Both mounts wrap every route in the same middlewares, outermost first: security headers, the
console's state, CSRF (so no route can be reached by a post without its token), and — under a
unit — the tenant binding. Nothing here is global: each app builds its own :class:`Console`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route, Router, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from nentang.kernel.console import (
    audit_page,
    people,
    plugin_pages,
    plugins_page,
    roles,
    session_routes,
    switcher,
    tokens,
    units,
)
from nentang.kernel.console.binding import ConsoleTenantBinding
from nentang.kernel.console.csrf import ConsoleCsrfMiddleware, is_console_path
from nentang.kernel.console.pages import CONSOLE_KEY, Console, csrf_refusal
from nentang.kernel.console.security import SecurityHeadersMiddleware
from nentang.kernel.runtime import Kernel

__all__ = ["console_mounts", "is_console_path"]

STATIC = Path(__file__).parent / "static"


class _WithConsole:
    """Put the app's :class:`Console` in the scope (``pages.console_of``)."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[CONSOLE_KEY] = self.console
        await self.app(scope, receive, send)


def _wrapped(app: ASGIApp, console: Console) -> ASGIApp:
    return SecurityHeadersMiddleware(_WithConsole(ConsoleCsrfMiddleware(app, refuse=csrf_refusal), console))


def console_mounts(kernel: Kernel) -> list[BaseRoute]:
    """The console's routes for the kernel app; put them before ``/t/{tenant}``."""
    console = Console.build(kernel)
    platform = Router(
        routes=[
            Route("/", switcher.choose_unit, methods=["GET"]),
            Route("/sign-in", session_routes.sign_in_page, methods=["GET"]),
            Route("/sign-in", session_routes.sign_in, methods=["POST"]),
            Route("/sign-out", session_routes.sign_out_action, methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="console-static"),
        ]
    )
    unit = Router(
        routes=[
            *units.routes,
            *people.routes,
            *roles.routes,
            *tokens.routes,
            *plugins_page.routes,
            *audit_page.routes,
            *plugin_pages.routes,
        ]
    )
    unit_sign_in = _wrapped(request_response(session_routes.tenant_sign_in_page), console)
    return [
        Mount("/console", app=_wrapped(platform, console)),
        # sign-in needs no unit binding (nobody is signed in yet): matched before the bound mount
        Route("/t/{tenant}/console/sign-in", unit_sign_in, methods=["GET"]),
        Mount("/t/{tenant}/console", app=_wrapped(ConsoleTenantBinding(unit), console)),
    ]
