"""Plugins' console pages (``nentang_http_console_pages``), at ``/t/{code}/console/p/{plugin}/{path}``.

The pages of a unit are asked for on each request to that unit's console, through the dispatcher
(so only from plugins enabled there, each as its own plugin call under the watchdog), after the
tenant binding let the request in (``binding.py`` calls :func:`find_pages`). The menu lists the
pages the person may open; the page route finds its page in the same answer. So a plugin that is
not enabled at the unit has no page there — a 404 page, like any unknown address, never a 403
that would tell it exists — and no menu entry.

Order of the checks before a plugin's handler runs: security headers, CSRF of a post (the whole
console's middleware), session and unit (``binding.py``), the page exists here, the method, the
page's permission (refused with the reason, audited as ``console.plugin_page_refused``). The
handler then runs as the plugin's call: in a worker thread, under its deadline and the runtime
guard, in one transaction of the unit (committed if it returns, rolled back if it raises). A
``PermissionDenied`` it raises is a 403 page, a ``ValidationFailed`` a 400 page with the message;
any other failure, or a timeout, is charged to the plugin's error budget at the unit and answered
with a 500 page. Its view renders with an environment of the plugin's template folder plus the console's
``nentang/`` templates (the layout and the macros).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

import structlog
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.console.forms import form_of
from nentang.kernel.console.i18n import LOCALES, locale_of
from nentang.kernel.console.pages import TEMPLATES, caller_in, console_of, redirect, refusal, render, tenant_url
from nentang.kernel.http.state import TENANT_KEY
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.console import PAGE_PATH, ConsolePage, ConsoleRedirect, ConsoleView
from nentang.sdk.context import TenantContext, TenantRef
from nentang.sdk.errors import PermissionDenied, ValidationFailed

HOOK: Final = "nentang_http_console_pages"
#: Where the binding leaves the unit's pages for the menu and the page route: plugin -> pages.
PAGES_KEY: Final = "nentang.console.plugin_pages"
_METHODS: Final = frozenset({"GET", "POST"})
_log = structlog.get_logger("nentang.console")


def find_pages(kernel: Kernel, tenant: TenantInfo, actor: str) -> dict[str, tuple[ConsolePage, ...]]:
    """Each enabled plugin's valid pages at ``tenant`` (a plugin whose answer is wrong has none)."""
    dispatcher = kernel.plugins.dispatcher
    impls = dispatcher.implementations(HOOK, tenant.id)
    if not impls:
        return {}
    ref = tenant_ref(tenant)
    settings = dispatcher.activations.get(tenant.id).settings
    found: dict[str, tuple[ConsolePage, ...]] = {}
    with kernel.db.tenant(tenant.id) as session:
        for impl in impls:
            plugin = impl.plugin_name
            try:
                answer = dispatcher.call_one(
                    plugin, HOOK, ref, actor=actor, session=session, plugin_settings=settings.get(plugin, {})
                )
                found[plugin] = _checked_pages(kernel, plugin, answer)
            except Exception as exc:
                _log.error("console.plugin_pages_left_out", plugin=plugin, tenant=tenant.code, error=repr(exc))
    return found


class _PageProblem(ValueError):
    pass


def _checked_pages(kernel: Kernel, plugin: str, answer: object) -> tuple[ConsolePage, ...]:
    if not isinstance(answer, list) or not all(isinstance(page, ConsolePage) for page in answer):
        raise _PageProblem(f"{HOOK} of {plugin!r} must return a list of nentang.sdk.ConsolePage")
    loaded = kernel.plugins.host.plugins.get(plugin)
    declared = {p.name for p in loaded.manifest.permissions} if loaded is not None else set()
    problems, paths = [], set()
    for page in answer:
        where = f"page {page.path!r} of {plugin!r}"
        if not isinstance(page.path, str) or not PAGE_PATH.match(page.path) or page.path in paths:
            problems.append(f"{where}: the path must be unique, '' or lower-case segments of letters, digits, '-'")
        paths.add(page.path)
        if page.permission not in declared:
            problems.append(f"{where}: permission {page.permission!r} is not one the plugin declares")
        if any(not isinstance(page.title.get(lang), str) or not page.title.get(lang) for lang in LOCALES):
            problems.append(f"{where}: the title needs a text for each of {', '.join(LOCALES)}")
        if not page.methods or not set(page.methods) <= _METHODS or not callable(page.handler):
            problems.append(f"{where}: methods must be GET and/or POST, and the handler a function")
        if _template_folder(loaded.package_dir if loaded else None, page.templates) is None:
            problems.append(f"{where}: the template folder {page.templates!r} is not a folder of the plugin's package")
    if problems:
        raise _PageProblem("; ".join(problems))
    return tuple(answer)


def plugin_url(code: str, plugin: str, path: str = "") -> str:
    """``/t/{code}/console/p/{plugin}/{path}`` (a plugin's first page ends with ``/``)."""
    return tenant_url(code, "p", plugin) + "/" + path.strip("/")


def _template_folder(package: Path | None, folder: object) -> Path | None:
    """``folder`` inside the plugin's package, if it is one (never outside it)."""
    if package is None or not isinstance(folder, str) or not folder or Path(folder).is_absolute():
        return None
    root = package.resolve()
    found = (root / folder).resolve()
    return found if found.is_dir() and found.is_relative_to(root) else None


def pages_of(request: Request) -> Mapping[str, tuple[ConsolePage, ...]]:
    pages = request.scope.get(PAGES_KEY)
    return pages if isinstance(pages, dict) else {}


def menu_entries(request: Request, locale: str) -> list[tuple[str, str]]:
    """(address, label) of the plugins' pages the person may open here, for the layout's menu."""
    tenant = request.scope.get(TENANT_KEY)
    pages = pages_of(request)
    if not isinstance(tenant, TenantInfo) or not pages:
        return []
    authz, principal = console_of(request).kernel.authz, caller_in(request).principal
    return [
        (plugin_url(tenant.code, plugin, page.path), page.title[locale])
        for plugin, plugin_pages in sorted(pages.items())
        for page in plugin_pages
        if page.menu and authz.check(principal, tenant.id, page.permission)
    ]


@final
@dataclass(frozen=True, slots=True)
class _Request:
    """The kernel's :class:`nentang.sdk.console.ConsoleRequest`."""

    ctx: TenantContext
    tenant: TenantRef
    method: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    locale: str
    _base: str

    def url(self, path: str = "") -> str:
        return self._base + path.strip("/")


async def plugin_page(request: Request) -> Response:
    tenant = request.scope[TENANT_KEY]
    plugin, path = request.path_params["plugin"], request.path_params["path"].strip("/")
    page = next((p for p in pages_of(request).get(plugin, ()) if p.path == path), None)
    if page is None:
        return refusal(request, "page_not_found", request.url.path, status=404)
    if request.method not in page.methods:
        return refusal(request, "page_not_found", request.url.path, status=405)
    console, caller = console_of(request), caller_in(request)
    kernel = console.kernel
    if not kernel.authz.check(caller.principal, tenant.id, page.permission):
        record = console.refusals.record
        await run_in_threadpool(
            record,
            actor=caller.actor,
            tenant_ids=(tenant.id,),
            action="console.plugin_page_refused",
            target=f"{plugin}/{path}",
            code="permission.denied",
            detail={"permission": page.permission, "method": request.method},
        )
        return refusal(request, "permission", page.permission, status=403, values={"unit": tenant})
    form: dict[str, str] = {}
    if request.method == "POST":
        try:
            form = await form_of(request)
        except ValidationFailed as exc:
            return refusal(request, "bad_form", str(exc), status=400)
        form.pop("csrf_token", None)
    locale = locale_of(request)
    base = plugin_url(tenant.code, plugin)
    query = dict(request.query_params)
    try:
        answer = await run_in_threadpool(
            _run, kernel, plugin, tenant, str(caller.actor), page, request.method, query, form, locale, base
        )
    except PermissionDenied as exc:  # the handler's own finer check (rolled back, not the plugin's fault)
        return refusal(request, "permission", str(exc), status=403, values={"unit": tenant})
    except ValidationFailed as exc:
        return refusal(request, "bad_form", str(exc), status=400)
    except Exception as exc:
        _log.error("console.plugin_page_failed", plugin=plugin, page=path, tenant=tenant.code, error=repr(exc))
        await run_in_threadpool(kernel.plugins.budget.failed, plugin, tenant_ref(tenant), exc)
        return refusal(request, "plugin_failed", plugin, status=500)
    if isinstance(answer, ConsoleRedirect):
        return redirect(request, base + answer.path.strip("/"))
    if not isinstance(answer, ConsoleView):
        _log.error("console.plugin_page_failed", plugin=plugin, page=path, error=f"returned {type(answer).__name__}")
        return refusal(request, "plugin_failed", plugin, status=500)
    values = {**answer.values, "title": page.title[locale], "page_url": base}
    loaded = kernel.plugins.host.plugins.get(plugin)
    folder = _template_folder(loaded.package_dir if loaded else None, page.templates)
    if folder is None:  # the plugin was replaced since its pages were checked
        return refusal(request, "plugin_failed", plugin, status=500)
    return render(request, answer.template, values, status=answer.status, templates=_templates(request, folder))


def _run(
    kernel: Kernel,
    plugin: str,
    tenant: TenantInfo,
    actor: str,
    page: ConsolePage,
    method: str,
    query: Mapping[str, str],
    form: Mapping[str, str],
    locale: str,
    base: str,
) -> Any:
    dispatcher = kernel.plugins.dispatcher
    ref = tenant_ref(tenant)
    settings = dispatcher.activations.get(tenant.id).settings.get(plugin, {})

    def handle(ctx: TenantContext) -> Any:
        return page.handler(_Request(ctx, ref, method, query, form, locale, base))

    with kernel.db.tenant(tenant.id) as session, session.begin():
        return dispatcher.run_as_plugin(
            plugin, ref, f"console:{page.path or '/'}", handle, actor=actor, session=session, plugin_settings=settings
        )


def _templates(request: Request, folder: Path) -> Environment:
    """The plugin's folder, then the console's layout and macros under ``nentang/`` (kept per folder)."""
    cache = console_of(request).plugin_templates
    environment = cache.get(str(folder))
    if environment is None:
        loader = ChoiceLoader([PrefixLoader({"nentang": FileSystemLoader(TEMPLATES)}), FileSystemLoader(folder)])
        environment = cache[str(folder)] = Environment(
            loader=loader,
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return environment


routes = [Route("/p/{plugin}/{path:path}", plugin_page, methods=["GET", "POST"])]
