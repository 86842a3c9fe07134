"""The Plugins page under ``/t/{code}/console/``: the catalogue, per-unit enable and disable, settings.

- ``GET  /plugins[?unit=X]``                  every installed plugin: approval, status (a quarantine
  with its reason), levels, declared permissions, and whether it is enabled at X (default: the
  acting unit), with the acts offered there
- ``POST /plugins/{plugin}/enable``   (unit)  ``plugin.enable``  → 303 to the list of X
- ``POST /plugins/{plugin}/disable``  (unit)  ``plugin.disable`` → 303 to the list of X
- ``POST /plugins/{plugin}/release``  (unit)  ``plugin.release``: lifts its quarantine at X → 303
- ``POST /plugins/{plugin}/policy``   (unit, ``allowed`` or ``locked``: yes/no)  ``plugin.policy``: X's
  rule for the units below it (forbid or allow enabling it there; lock it on there, or unlock) → 303
- ``GET  /plugins/{plugin}/settings?unit=X``  the settings form generated from the plugin's schema
- ``POST /plugins/{plugin}/settings`` (unit, ``setting-<name>``...) ``plugin.settings`` → 303 to the
  form with "saved"; on error the form again (400) with each problem beside its field, nothing saved

Reading needs what GraphQL's ``pluginActivations`` needs: ``kernel.plugins.manage`` at X (a grant at
an ancestor counting), X inside the acting unit's subtree (else 404). The acts are the GraphQL
``enablePlugin``, ``disablePlugin``, ``updatePluginSettings``, ``releasePlugin`` and
``setPluginPolicy`` (``actions.ACTIONS``): the same check, then the same service call
(:class:`~nentang.kernel.plugins.activation.ActivationService`, the error budget), whose change of
version tells every worker — no restart. A refusal by a unit's rule (a lock, a ban from above) is
shown on the list with its reason; a refusal for want of the permission is the refusal page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.authz.permissions import PLUGINS_MANAGE
from nentang.kernel.console import actions
from nentang.kernel.console.forms import FieldError, errors_by_field, form_of
from nentang.kernel.console.i18n import N_, locale_of
from nentang.kernel.console.messages import status_of, text, translated
from nentang.kernel.console.pages import console_of, redirect, refusal, render
from nentang.kernel.console.pages import tenant_url as url
from nentang.kernel.console.permitted import permitted_unit
from nentang.kernel.console.plugin_form import problem_errors, read_settings, setting_fields
from nentang.kernel.console.plugin_rules import rules_at
from nentang.kernel.http.state import tenant_of
from nentang.kernel.plugins.activation_view import ActivationView
from nentang.kernel.plugins.installed import InstalledPlugin, approval_state, installed_plugin, installed_plugins
from nentang.kernel.plugins.settings import SettingsInvalid
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NentangError, ValidationFailed


def _title(plugin: InstalledPlugin, locale: str) -> str:
    manifest = plugin.loaded.manifest if plugin.loaded is not None else None
    if manifest is None:
        return plugin.name
    return manifest.title.get(locale) or manifest.title.get("vi") or plugin.name


def _row(request: Request, plugin: InstalledPlugin, view: ActivationView | None, unit: TenantInfo) -> dict[str, Any]:
    host = console_of(request).kernel.plugins.host
    manifest = plugin.loaded.manifest if plugin.loaded is not None else None
    levels = list(manifest.levels) if manifest else []
    return {
        "name": plugin.name,
        "version": plugin.version,
        "title": _title(plugin, locale_of(request)),
        "approval": approval_state(host, plugin).value,
        "quarantine": plugin.quarantined.reason if plugin.quarantined else None,
        "levels": levels,
        "permissions": [(p.name, p.description) for p in manifest.permissions] if manifest else [],
        "enabled": bool(view and view.enabled),
        "locked_by": view.locked_by if view else None,
        "quarantined_here": view.quarantined if view and plugin.quarantined is None else None,
        "fits": unit.kind.value in levels,
        "has_settings": bool(manifest and manifest.settings_schema.get("properties")),
        "has_below": unit.kind.value != "unit",
    }


async def plugin_list(request: Request) -> Response:
    unit = await permitted_unit(request, request.query_params.get("unit"), "plugin.read", PLUGINS_MANAGE)
    if isinstance(unit, Response):
        return unit
    return await _list_page(request, unit)


async def _list_page(request: Request, unit: TenantInfo, error: str = "", status: int = 200) -> Response:
    kernel = console_of(request).kernel

    def read() -> list[dict[str, Any]]:
        views = {v.plugin: v for v in kernel.plugins.activation.list(unit.code)}
        rules = rules_at(kernel, unit)
        rows = [_row(request, p, views.get(p.name), unit) for p in installed_plugins(kernel.plugins.host)]
        for row in rows:
            row["rule"], row["forbidden_by"] = rules.get(row["name"], (None, None))
        return rows

    values = {
        "unit": unit,
        "plugins": await run_in_threadpool(read),
        "errors": [FieldError("", error)] if error else [],
    }
    return render(request, "plugins.html", values, status=status)


async def _posted_unit(request: Request) -> tuple[dict[str, str], TenantInfo | Response]:
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        acting = await permitted_unit(request, None, "plugin.read", PLUGINS_MANAGE)  # the list is not for all
        return {}, acting if isinstance(acting, Response) else await _list_page(request, acting, exc.message, 400)
    unit = await permitted_unit(request, fields.get("unit"), "plugin.read", PLUGINS_MANAGE)
    return fields, unit


def _plugin_name(request: Request) -> str:
    return str(request.path_params["plugin"])


async def _list_act(request: Request, act: str, arguments: Callable[[TenantInfo], dict[str, Any]]) -> Response:
    """Run ``act`` at the posted unit and return to its list (the list with the reason, if refused)."""
    _fields, unit = await _posted_unit(request)
    if isinstance(unit, Response):
        return unit
    back = url(tenant_of(request).code, "plugins", unit=unit.code)

    def failed(exc: NentangError) -> Awaitable[Response]:
        return _list_page(request, unit, translated(request, exc), status_of(exc))

    def done(_result: object) -> Response:
        return redirect(request, back)

    return await actions.answer(request, act, unit, done=done, failed=failed, rules=UNIT_RULES, **arguments(unit))


#: The activation service's refusals that are the units' rules (a lock, a ban from above).
UNIT_RULES: Final = frozenset({"plugin.not_allowed", "plugin.locked"})
#: The policy form's choices: (field, value) → the service's argument.
POLICY_CHOICES: Final = {
    ("allowed", "no"): {"allowed": False},
    ("allowed", "yes"): {"allowed": True},
    ("locked", "yes"): {"locked": True},
    ("locked", "no"): {"locked": False},
}
BAD_POLICY = N_("Choose what to change: allow, forbid, lock or unlock")


async def policy(request: Request) -> Response:
    """The unit's rule for the plugin in the units below it (``setPluginPolicy``)."""
    try:
        fields = await form_of(request)
    except ValidationFailed:
        fields = {}  # named below, as for no choice
    chosen = [POLICY_CHOICES[k] for k in POLICY_CHOICES if fields.get(k[0]) == k[1]]
    if len(chosen) != 1:
        unit = await permitted_unit(request, fields.get("unit"), "plugin.read", PLUGINS_MANAGE)
        if isinstance(unit, Response):
            return unit
        return await _list_page(request, unit, text(request, BAD_POLICY), 400)
    return await _list_act(
        request, "plugin.policy", lambda unit: {"plugin": _plugin_name(request), "tenant_code": unit.code, **chosen[0]}
    )


def _named_at(request: Request) -> Callable[[TenantInfo], dict[str, Any]]:
    return lambda unit: {"plugin": _plugin_name(request), "tenant_code": unit.code}


async def release(request: Request) -> Response:
    """Lift the plugin's quarantine at the unit (``releasePlugin``); not quarantined there: a no-op."""
    return await _list_act(
        request, "plugin.release", lambda unit: {"plugin": _plugin_name(request), "tenant_id": unit.id}
    )


async def enable(request: Request) -> Response:
    return await _list_act(request, "plugin.enable", _named_at(request))


async def disable(request: Request) -> Response:
    return await _list_act(request, "plugin.disable", _named_at(request))


async def _settings_page(
    request: Request,
    unit: TenantInfo,
    plugin: InstalledPlugin,
    shown: Mapping[str, Any],
    errors: list[FieldError],
    enabled: bool,
) -> Response:
    schema = plugin.loaded.manifest.settings_schema if plugin.loaded else {}
    values = {
        "unit": unit,
        "plugin": {"name": plugin.name, "title": _title(plugin, locale_of(request))},
        "setting_fields": setting_fields(schema, shown),
        "errors": errors,
        "field_errors": errors_by_field(errors),
        "saved": request.query_params.get("saved") == "1" and not errors,
        "enabled": enabled,
    }
    return render(request, "plugin_settings.html", values, status=400 if errors else 200)


Found = tuple[TenantInfo, InstalledPlugin, ActivationView]


async def _plugin_at(request: Request, unit: TenantInfo | Response) -> Found | Response:
    """The plugin of the path, registered here and enabled at ``unit`` or fit for its level (its
    settings may be filled in before it is first enabled); else the 404 page (or ``unit``'s own
    refusal page)."""
    if isinstance(unit, Response):
        return unit
    kernel = console_of(request).kernel
    name = _plugin_name(request)
    plugin = installed_plugin(kernel.plugins.host, name)
    if plugin is not None and plugin.loaded is not None:
        views = await run_in_threadpool(kernel.plugins.activation.list, unit.code)
        view = next((v for v in views if v.plugin == name and v.version), None)
        if view is not None and (view.enabled or unit.kind.value in plugin.loaded.manifest.levels):
            return unit, plugin, view
    return refusal(request, "plugin_not_here", name, status=404, values={"unit": unit})


async def settings_form(request: Request) -> Response:
    unit = await permitted_unit(request, request.query_params.get("unit"), "plugin.read", PLUGINS_MANAGE)
    found = await _plugin_at(request, unit)
    if isinstance(found, Response):
        return found
    unit, plugin, view = found
    return await _settings_page(request, unit, plugin, view.settings, [], view.enabled)


async def save_settings(request: Request) -> Response:
    fields, posted = await _posted_unit(request)
    found = await _plugin_at(request, posted)
    if isinstance(found, Response):
        return found
    unit, plugin, view = found
    schema = plugin.loaded.manifest.settings_schema if plugin.loaded else {}
    wanted, errors = read_settings(request, schema, view.settings, fields)
    typed = {f.name: fields.get(f.id, "") for f in setting_fields(schema, view.settings) if f.kind != "password"}
    shown = {**view.settings, **typed}  # a secret typed is never sent back to the browser
    if errors:
        return await _settings_page(request, unit, plugin, shown, errors, view.enabled)
    offered = {f.name for f in setting_fields(schema, view.settings)}

    def failed(exc: NentangError) -> Awaitable[Response]:
        found_errors = (
            problem_errors(request, exc.problems, offered)
            if isinstance(exc, SettingsInvalid)
            else [FieldError("", translated(request, exc))]
        )
        return _settings_page(request, unit, plugin, shown, found_errors, view.enabled)

    done = url(tenant_of(request).code, "plugins", plugin.name, "settings", unit=unit.code, saved="1")
    return await actions.answer(
        request,
        "plugin.settings" if view.enabled else "plugin.enable",  # saving enables a plugin not yet on
        unit,
        done=lambda _view: redirect(request, done),
        failed=failed,
        plugin=plugin.name,
        tenant_code=unit.code,
        settings=wanted,
    )


routes = [
    Route("/plugins", plugin_list, methods=["GET"]),
    Route("/plugins/{plugin}/enable", enable, methods=["POST"]),
    Route("/plugins/{plugin}/disable", disable, methods=["POST"]),
    Route("/plugins/{plugin}/release", release, methods=["POST"]),
    Route("/plugins/{plugin}/policy", policy, methods=["POST"]),
    Route("/plugins/{plugin}/settings", settings_form, methods=["GET"]),
    Route("/plugins/{plugin}/settings", save_settings, methods=["POST"]),
]
