"""Rendering a console page: the templates, the language, the form token, the layout's values.

Every page goes through :func:`render`, so every page gets the same layout values (who is signed
in, which unit, the navigation, the language switch, the form token) and the same cookies (the
language chosen with ``?lang=``, a new pre-session CSRF token). Handlers pass only their own values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from nentang.kernel.audit.refusals import RefusalAudit
from nentang.kernel.console import csrf
from nentang.kernel.console.i18n import (
    LANG_COOKIE,
    LANG_PARAM,
    LANGUAGE_NAMES,
    LOCALES,
    N_,
    Catalogues,
    Formats,
    locale_of,
    requested_locale,
)
from nentang.kernel.http.state import CALLER_KEY, TENANT_KEY
from nentang.kernel.identity.caller import Caller
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo

TEMPLATES: Final = Path(__file__).parent / "templates"
CONSOLE_KEY: Final = "nentang.console"
#: Where the console starts: the unit chooser (or the only unit, see ``session_routes.home``).
CONSOLE_HOME: Final = "/console/"
SIGN_IN: Final = "/console/sign-in"
#: A page of a list (units, the unit chooser): enough to scan, few enough for a phone.
PAGE_SIZE: Final = 50
ONE_YEAR: Final = 365 * 24 * 3600


@final
@dataclass(frozen=True, slots=True, eq=False)
class Console:
    """What the console keeps per app: the kernel, the templates, the catalogues, the refusal log."""

    kernel: Kernel
    templates: Environment
    catalogues: Catalogues
    refusals: RefusalAudit
    #: Menu entries of a unit's console: (path under /t/{code}/console/, message id).
    menu: tuple[tuple[str, str], ...] = field(
        default=(
            ("", N_("Overview")),
            ("units", N_("Units")),
            ("people", N_("People")),
            ("roles", N_("Roles")),
            ("tokens", N_("API tokens")),
            ("plugins", N_("Plugins")),
            ("audit", N_("Audit")),
        )
    )

    #: Template environments of plugins' pages, by template folder (``plugin_pages.py``).
    plugin_templates: dict[str, Environment] = field(default_factory=dict)

    @classmethod
    def build(cls, kernel: Kernel) -> Console:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,  # a misspelt variable is an error in the tests, not a blank
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return cls(kernel, environment, Catalogues(), RefusalAudit(kernel.db, kernel.audit))


def console_of(request: Request) -> Console:
    console = request.scope.get(CONSOLE_KEY)
    if not isinstance(console, Console):
        raise RuntimeError("this route is not mounted by nentang.kernel.console.app")
    return console


def caller_in(request: Request) -> Caller:
    caller = request.scope.get(CALLER_KEY)
    return caller if isinstance(caller, Caller) else Caller.anonymous()


def tenant_url(code: str, *parts: str, **query: str) -> str:
    """``/t/{code}/console/<parts>``, with a query if given (empty values left out)."""
    path = f"/t/{code}/console/" + "/".join(p.strip("/") for p in parts if p)
    kept = {k: v for k, v in query.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


def with_query(request: Request, **changes: str) -> str:
    """This page's URL with some query values changed (``""`` removes one)."""
    query = dict(request.query_params)
    query.pop(LANG_PARAM, None)
    query.update(changes)
    kept = {k: v for k, v in query.items() if v}
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    templates: Environment | None = None,
) -> HTMLResponse:
    """``template`` inside the layout (from ``templates``, a plugin's environment, else the console's)."""
    console = console_of(request)
    locale = locale_of(request)
    translations = console.catalogues.get(locale)

    def gettext(message: str, **values: object) -> str:
        text = translations.gettext(message)
        return text % values if values else text

    def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
        return translations.ngettext(singular, plural, n) % {"n": n, **values}

    caller = caller_in(request)
    tenant = request.scope.get(TENANT_KEY)
    context: dict[str, Any] = {
        "request": request,
        "_": gettext,
        "ngettext": ngettext,
        "locale": locale,
        "fmt": Formats(locale),
        "languages": [(code, LANGUAGE_NAMES[code], with_query(request, lang=code)) for code in LOCALES],
        "csrf_token": csrf.form_token(request),
        "user": caller.user,
        "tenant": tenant if isinstance(tenant, TenantInfo) else None,
        "menu": console.menu,
        "plugin_menu": plugin_menu(request, locale),
        "tenant_url": tenant_url,
        "with_query": lambda **changes: with_query(request, **changes),
        "oidc_enabled": console.kernel.oidc is not None,
        "sign_in_url": SIGN_IN,
        **(values or {}),
    }
    body = (templates or console.templates).get_template(template).render(context)
    response = HTMLResponse(body, status_code=status, headers=dict(headers or {}))
    finish(request, response)
    return response


def plugin_menu(request: Request, locale: str) -> list[tuple[str, str]]:
    from nentang.kernel.console.plugin_pages import menu_entries  # plugin_pages renders with this module

    return menu_entries(request, locale)


def finish(request: Request, response: Response) -> None:
    """The cookies every console response may need to set: the language, a pre-session token."""
    kernel = console_of(request).kernel
    secure = kernel.sessions.cookie_secure(scheme=request.url.scheme, host=request.url.hostname or "")
    chosen = requested_locale(request)
    if chosen is not None:
        response.set_cookie(LANG_COOKIE, chosen, max_age=ONE_YEAR, path="/", samesite="lax", secure=secure)
    fresh = request.scope.get(csrf.NEW_TOKEN_KEY)
    if isinstance(fresh, str):
        response.set_cookie(csrf.PRE_SESSION_COOKIE, fresh, path="/", httponly=True, samesite="strict", secure=secure)


def redirect(request: Request, url: str) -> RedirectResponse:
    """Redirect-after-post (303: the browser follows with GET, so reloading never posts again)."""
    response = RedirectResponse(url, status_code=303)
    finish(request, response)
    return response


def refusal(
    request: Request, reason: str, message: str = "", *, status: int, values: Mapping[str, Any] | None = None
) -> HTMLResponse:
    """The page of a refused request: ``reason`` picks its explanation (see ``refused.html``)."""
    return render(request, "refused.html", {"reason": reason, "message": message, **(values or {})}, status=status)


async def csrf_refusal(request: Request, why: str) -> Response:
    return refusal(request, "csrf", why, status=403)
