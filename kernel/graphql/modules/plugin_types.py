"""The types of the plugin part of the schema: a plugin as installed, and a plugin as it stands at
one tenant (enabled, settings with secrets masked, the allow/lock rules on its path).

Built from the services' values (``InstalledPlugin``, ``ActivationView``) and the rules read in
``plugin_data.py``; the operations that return them are in ``plugins.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.modules import plugin_data
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.modules.tenants import MAX_TREE_DEPTH, Tenant
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.plugins.activation_view import ActivationView
from nentang.kernel.plugins.installed import ApprovalState, InstalledPlugin, approval_state, installed_plugin
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.graphql import graphql_metadata

#: Bounds the lists a plugin declares (permissions, required plugins, findings) in the cost count.
MAX_DECLARED = 200
#: Bounds the lists of a rescan report.
MAX_PLUGINS = 1_000

ApprovalValue = strawberry.enum(ApprovalState, name="PluginApproval", description="A plugin against registry.toml.")


@strawberry.enum(name="PluginStatus", description="Whether this worker runs a plugin.")
class PluginStatusValue(Enum):
    REGISTERED = "registered"
    QUARANTINED = "quarantined"


@strawberry.type(description="Text in Vietnamese and English, as the plugin's manifest gives it.")
class LocalizedText:
    vi: str | None
    en: str | None


@strawberry.type(description="A permission a plugin declares (administrators grant it through roles).")
class PluginPermission:
    name: str
    description: str


@strawberry.type(description="One problem found with a plugin: a stable code, where it is, what to do.")
class PluginFinding:
    code: str
    location: str
    message: str


@strawberry.type(description="A plugin installed on the platform.")
class Plugin:
    name: str
    version: str
    status: PluginStatusValue
    title: LocalizedText | None = strawberry.field(
        description="Null for a plugin quarantined before its manifest read."
    )
    description: LocalizedText | None
    levels: list[str] = strawberry.field(
        description="The levels it may be enabled at (central, province, commune, unit).",
        metadata=graphql_metadata(max_items=4),
    )
    requires: list[str] = strawberry.field(
        description="Plugins that must be enabled with it.", metadata=graphql_metadata(max_items=MAX_DECLARED)
    )
    permissions: list[PluginPermission] = strawberry.field(metadata=graphql_metadata(max_items=MAX_DECLARED))
    settings_schema: JSON | None = strawberry.field(description="The JSON Schema its per-tenant settings follow.")
    quarantine_reason: str | None = strawberry.field(description="Why this worker does not run it, if it does not.")
    findings: list[PluginFinding] = strawberry.field(metadata=graphql_metadata(max_items=MAX_DECLARED))
    installed: strawberry.Private[InstalledPlugin]

    @classmethod
    def of(cls, plugin: InstalledPlugin) -> Plugin:
        manifest = plugin.loaded.manifest if plugin.loaded is not None else None
        quarantined = plugin.quarantined
        return cls(
            name=plugin.name,
            version=plugin.version,
            status=PluginStatusValue.REGISTERED if quarantined is None else PluginStatusValue.QUARANTINED,
            title=_text(manifest.title) if manifest else None,
            description=_text(manifest.description) if manifest else None,
            levels=list(manifest.levels) if manifest else [],
            requires=sorted(manifest.requires) if manifest else [],
            permissions=[PluginPermission(name=p.name, description=p.description) for p in manifest.permissions]
            if manifest
            else [],
            settings_schema=dict(manifest.settings_schema) if manifest else None,
            quarantine_reason=quarantined.reason if quarantined else None,
            findings=[PluginFinding(code=f.code, location=f.location, message=f.message) for f in quarantined.findings][
                :MAX_DECLARED
            ]
            if quarantined
            else [],
            installed=plugin,
        )

    @strawberry.field(description="Whether the installed files match an approval (hashes them: ask when needed).")
    async def approval(self, info: strawberry.Info[GraphQLContext, None]) -> ApprovalValue:  # type: ignore[valid-type]
        ctx = info.context
        return await ctx.run_sync(approval_state, ctx.kernel.plugins.host, self.installed)


def _text(text: Mapping[str, str]) -> LocalizedText:
    return LocalizedText(vi=text.get("vi"), en=text.get("en"))


@strawberry.type(description="A tenant's rule for a plugin in the tenants below it.")
class PluginRule:
    allowed: bool = strawberry.field(description="False: the tenants below may not enable it.")
    locked: bool = strawberry.field(description="True: enabled in every tenant below, which may not disable it.")
    updated_by: str
    updated_at: datetime
    tenant_id: strawberry.Private[int]

    @strawberry.field(description="The tenant that set the rule.")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant | None:
        found = await info.context.loader(data.TENANT_BY_ID).load(self.tenant_id)
        return Tenant.of(found) if found else None


@strawberry.type(description="A plugin as it stands at one tenant.")
class PluginActivation:
    name: str = strawberry.field(description="The plugin's name.")
    enabled: bool
    version: str = strawberry.field(description="The version last enabled here (or the installed one).")
    settings: JSON = strawberry.field(description='This tenant\'s settings; every secret reads "********".')
    allowed: bool = strawberry.field(description="False when a tenant above does not allow it here.")
    quarantined: str | None = strawberry.field(description="Why it is out of service here, if it is.")
    updated_by: str | None
    updated_at: datetime | None
    rule: PluginRule | None = strawberry.field(description="This tenant's own rule for the tenants below it.")
    rules: list[PluginRule] = strawberry.field(
        description="Every rule on the path, from the central tenant down to this one.",
        metadata=graphql_metadata(max_items=MAX_TREE_DEPTH),
    )
    tenant: Tenant
    view: strawberry.Private[ActivationView]
    not_allowed_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The installed plugin (null when its rows outlive an uninstalled plugin).")
    def plugin(self, info: strawberry.Info[GraphQLContext, None]) -> Plugin | None:
        found = installed_plugin(info.context.kernel.plugins.host, self.name)
        return Plugin.of(found) if found else None

    @strawberry.field(description="The tenant above whose lock keeps it enabled here, if any.")
    async def locked_by(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant | None:
        if self.view.locked_by is None:
            return None
        found = await info.context.loader(data.TENANT_BY_CODE).load(self.view.locked_by)
        return Tenant.of(found) if found else None

    @strawberry.field(description="The tenant above that does not allow it here, if any.")
    async def not_allowed_by(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant | None:
        if self.not_allowed_by_id is None:
            return None
        found = await info.context.loader(data.TENANT_BY_ID).load(self.not_allowed_by_id)
        return Tenant.of(found) if found else None


def activation_at(tenant: TenantInfo, view: ActivationView, rules: list[plugin_data.Rule]) -> PluginActivation:
    shown = [
        PluginRule(
            allowed=r.allowed, locked=r.locked, updated_by=r.updated_by, updated_at=r.updated_at, tenant_id=r.tenant_id
        )
        for r in rules
    ]
    above = [rule for rule in shown if rule.tenant_id != tenant.id]
    blocker = next((rule.tenant_id for rule in above if not rule.allowed), None)
    return PluginActivation(
        name=view.plugin,
        enabled=view.enabled,
        version=view.version,
        settings=dict(view.settings),
        allowed=blocker is None,
        quarantined=view.quarantined,
        updated_by=view.updated_by or None,
        updated_at=aware(view.updated_at) if view.updated_at else None,
        rule=next((rule for rule in shown if rule.tenant_id == tenant.id), None),
        rules=shown,
        tenant=Tenant.of(tenant),
        view=view,
        not_allowed_by_id=blocker,
    )


@strawberry.type(description="What a rescan of this worker found; every other worker was asked to rescan too.")
class PluginRescan:
    registered: list[Plugin] = strawberry.field(
        description="Newly installed, checked and registered.", metadata=graphql_metadata(max_items=MAX_PLUGINS)
    )
    quarantined: list[Plugin] = strawberry.field(
        description="Newly installed but refused, with the reason and findings.",
        metadata=graphql_metadata(max_items=MAX_PLUGINS),
    )
    unchanged: list[str] = strawberry.field(
        description="Already known (an upgrade on disk needs a rolling restart).",
        metadata=graphql_metadata(max_items=MAX_PLUGINS),
    )


@strawberry.type(description="What releasing a plugin's quarantine at a tenant did.")
class PluginRelease:
    name: str = strawberry.field(description="The plugin's name.")
    released: bool = strawberry.field(
        description="True: its quarantine there was lifted. False: it was not quarantined there; nothing changed."
    )
    tenant: Tenant
