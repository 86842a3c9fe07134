"""Plugins over GraphQL: what is installed, and per-tenant activation, settings, allow and lock.

Everything ``nentang plugin`` does, through the same services (``ActivationService``, ``Plugins``),
so the same rules hold: every change is one audited transaction, refused with a clear code and
without a trace when a rule says no. Authorisation, checked before anything is read or changed:

- ``pluginActivations``, ``enablePlugin``, ``disablePlugin``, ``updatePluginSettings``,
  ``setPluginPolicy`` and ``releasePlugin`` need ``kernel.plugins.manage`` at the tenant named (a
  grant at an ancestor counts), so a province manages its own communes and never another province's;
- ``plugins`` (what is installed, the same for every tenant) needs it at the request's tenant;
- ``rescanPlugins`` changes what every worker runs, so it needs it at the central tenant.

Settings are returned as the service masks them: a secret is always ``"********"``, and writing
that mask back keeps the stored secret. A change of activation reaches the endpoint's schema
cache through the activation topic, so the next request of that tenant sees the plugin's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.scalars import JSON

from nentang.kernel.authz.permissions import PLUGINS_MANAGE
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import plugin_data
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.modules.plugin_types import (
    Plugin,
    PluginActivation,
    PluginRelease,
    PluginRescan,
    activation_at,
)
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.pagination import Connection, connection, encode_cursor
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.activation_view import ActivationView
from nentang.kernel.plugins.installed import InstalledPlugin, installed_plugin, installed_plugins
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NotFound, ValidationFailed


@strawberry.type
class PluginQueries:
    @strawberry.field(description="The plugins installed on the platform, by name, registered or quarantined.")
    async def plugins(
        self, info: strawberry.Info[GraphQLContext, None], first: int, after: str | None = None
    ) -> Connection[Plugin]:
        ctx = info.context
        ctx.require_at(PLUGINS_MANAGE, ctx.tenant)
        first = ctx.page_size(first)
        rows = plugin_data.page_by_name(installed_plugins(ctx.kernel.plugins.host), _name, first, after)
        return connection(rows, first, _name_cursor, Plugin.of)

    @strawberry.field(description="Every plugin as it stands at a tenant, by name: enabled, settings, rules.")
    async def plugin_activations(
        self, info: strawberry.Info[GraphQLContext, None], tenant: str, first: int, after: str | None = None
    ) -> Connection[PluginActivation]:
        ctx = info.context
        found = await data.load_by_code(ctx, tenant)
        ctx.require_at(PLUGINS_MANAGE, found)
        first = ctx.page_size(first)

        def read() -> list[PluginActivation]:
            views = plugin_data.page_by_name(ctx.kernel.plugins.activation.list(found.code), _plugin, first, after)
            rules = plugin_data.rules_on_path(ctx, found)
            return [activation_at(found, view, rules.get(view.plugin, [])) for view in views]

        return connection(await ctx.run_sync(read), first, _name_cursor, _same)


@strawberry.type
class PluginMutations:
    @strawberry.mutation(
        description=(
            "Enable a plugin at a tenant: checks, dependencies (with `withDependencies`), its setup hook, "
            "then commit; or nothing at all."
        )
    )
    async def enable_plugin(
        self,
        info: strawberry.Info[GraphQLContext, None],
        plugin: str,
        tenant: str,
        settings: JSON | None = None,
        with_dependencies: bool = False,
    ) -> PluginActivation | None:
        ctx = info.context
        wanted = _settings_object(settings) if settings is not None else None
        return await _act(
            ctx,
            tenant,
            lambda actor, code: ctx.kernel.plugins.activation.enable(
                actor=actor, plugin=plugin, tenant_code=code, settings=wanted, with_dependencies=with_dependencies
            ),
        )

    @strawberry.mutation(description="Disable a plugin at a tenant; its data and settings are kept.")
    async def disable_plugin(
        self, info: strawberry.Info[GraphQLContext, None], plugin: str, tenant: str
    ) -> PluginActivation | None:
        ctx = info.context
        return await _act(
            ctx,
            tenant,
            lambda actor, code: ctx.kernel.plugins.activation.disable(actor=actor, plugin=plugin, tenant_code=code),
        )

    @strawberry.mutation(
        description='Replace a plugin\'s settings at a tenant; a secret sent back as "********" keeps its value.'
    )
    async def update_plugin_settings(
        self, info: strawberry.Info[GraphQLContext, None], plugin: str, tenant: str, settings: JSON
    ) -> PluginActivation | None:
        ctx = info.context
        wanted = _settings_object(settings)
        return await _act(
            ctx,
            tenant,
            lambda actor, code: ctx.kernel.plugins.activation.update_settings(
                actor=actor, plugin=plugin, tenant_code=code, settings=wanted
            ),
        )

    @strawberry.mutation(
        description=(
            "Set a tenant's rule for a plugin in the tenants below it: `allowed: false` forbids enabling it "
            "there; `locked: true` enables it there for good (`locked: false` lifts the lock). Returns the "
            "plugin at the tenant, whose `rule` is the new one."
        )
    )
    async def set_plugin_policy(
        self,
        info: strawberry.Info[GraphQLContext, None],
        plugin: str,
        tenant: str,
        allowed: bool | None = None,
        locked: bool | None = None,
    ) -> PluginActivation | None:
        ctx = info.context
        if allowed is None and locked is None:
            raise ValidationFailed("say what to change: allowed, locked, or both", code="plugin.policy")

        def change(actor: Actor, code: str) -> ActivationView:
            ctx.kernel.plugins.activation.set_policy(
                actor=actor, plugin=plugin, tenant_code=code, allowed=allowed, locked=locked
            )
            return ctx.kernel.plugins.activation.view(plugin, code)

        return await _act(ctx, tenant, change)

    @strawberry.mutation(
        description=(
            "Find plugins installed since start-up and have every worker register them (platform operators: "
            "needs the right to manage plugins at the central tenant)."
        )
    )
    async def rescan_plugins(self, info: strawberry.Info[GraphQLContext, None]) -> PluginRescan | None:
        ctx = info.context

        def rescan() -> PluginRescan:
            root = data.root(ctx)
            ctx.require_at(PLUGINS_MANAGE, root)
            report = ctx.kernel.plugins.rescan(ctx.caller.actor)  # audited on the central tenant
            host = ctx.kernel.plugins.host
            return PluginRescan(
                registered=[Plugin.of(p) for n in report.registered if (p := installed_plugin(host, n))],
                quarantined=[Plugin.of(p) for n in report.quarantined if (p := installed_plugin(host, n))],
                unchanged=list(report.unchanged),
            )

        return await ctx.run_sync(rescan)

    @strawberry.mutation(
        description=(
            "Lift a plugin's quarantine at a tenant (its hooks kept failing there, and the cause is fixed): "
            "its hooks are called there again. `released` is false when it was not quarantined there."
        )
    )
    async def release_plugin(
        self, info: strawberry.Info[GraphQLContext, None], plugin: str, tenant: str
    ) -> PluginRelease | None:
        ctx = info.context

        def release() -> PluginRelease:
            found = _managed(ctx, tenant)
            # audited (``plugin.release`` on the tenant) by the error budget, in the same transaction
            released = ctx.kernel.plugins.budget.release(plugin, found.id, ctx.caller.actor)
            # checked after: the quarantine of a plugin since uninstalled may still be lifted
            if not released and installed_plugin(ctx.kernel.plugins.host, plugin) is None:
                raise NotFound(f"plugin {plugin!r} is not installed", code="plugin.not_installed")
            return PluginRelease(name=plugin, released=released, tenant=Tenant.of(found))

        return await ctx.run_sync(release)


def _managed(ctx: GraphQLContext, tenant_code: str) -> TenantInfo:
    """The tenant named, once the caller is known to manage plugins there (or at an ancestor)."""
    tenant = ctx.kernel.tenants.get(tenant_code)
    ctx.require_at(PLUGINS_MANAGE, tenant)
    return tenant


async def _act(
    ctx: GraphQLContext, tenant_code: str, change: Callable[[Actor, str], ActivationView]
) -> PluginActivation:
    """Check the caller at the tenant, make the change through the service (which checks again
    inside its transaction), and show the plugin at the tenant as it now stands."""

    def run() -> PluginActivation:
        tenant = _managed(ctx, tenant_code)
        view = change(ctx.caller.actor, tenant.code)
        return activation_at(tenant, view, plugin_data.rules_on_path(ctx, tenant).get(view.plugin, []))

    return await ctx.run_sync(run)


def _settings_object(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise ValidationFailed(
            f'settings must be a JSON object, like {{"limit": 5}}, not {type(settings).__name__}',
            code="plugin.settings_json",
        )
    return settings


def _name(plugin: InstalledPlugin) -> str:
    return plugin.name


def _plugin(view: ActivationView) -> str:
    return view.plugin


def _name_cursor(item: InstalledPlugin | PluginActivation) -> str:
    return encode_cursor(item.name)


def _same(item: PluginActivation) -> PluginActivation:
    return item


MODULE = KernelModule("plugins", queries=(PluginQueries,), mutations=(PluginMutations,))
