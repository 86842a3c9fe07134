"""Enabling and disabling plugins per tenant at runtime, and the province's allow/lock policies.

Every change is one transaction: permission check, the rules (in
:mod:`~nentang.kernel.plugins.activation_rules`), the plugin's own enable/disable hook, the activation
rows, an audit entry, and the change-version bump that tells every worker — all committed together, or
all rolled back with the reason. How each plugin stands at a tenant is read through
:mod:`~nentang.kernel.plugins.activation_view`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.permissions import PLUGINS_MANAGE, PermissionSpec, RoleTemplate
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import acting_for_tenant
from nentang.kernel.events.outbox import emit
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.activation_rules import (
    descendants,
    disablable_row,
    enablable_plugin,
    registered_plugin,
    require_enabled_nowhere_below,
    requirements_to_enable,
)
from nentang.kernel.plugins.activation_view import ActivationView, activation_views
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.dispatch import Dispatcher
from nentang.kernel.plugins.host import LoadedPlugin, PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginPolicy
from nentang.kernel.plugins.secrets import SecretBox, refuse_envelopes
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.tenancy.models import Tenant, utcnow
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import Conflict, NentangError, NotFound, TenantNotFound, ValidationFailed


@final
class ActivationService:
    def __init__(
        self,
        *,
        db: Database,
        host: PluginHost,
        dispatcher: Dispatcher,
        authz: Authorizer,
        audit: AuditLog,
        secrets: SecretBox,
    ) -> None:
        self._db = db
        self._secrets = secrets
        self._host = host
        self._dispatcher = dispatcher
        self._authz = authz
        self._audit = audit

    # -- enable / disable -----------------------------------------------------------------

    def enable(
        self,
        *,
        actor: Actor,
        plugin: str,
        tenant_code: str,
        settings: Mapping[str, Any] | None = None,
        with_dependencies: bool = False,
        checked: bool = True,
    ) -> ActivationView:
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            if checked:
                self._authz.require_in(session, str(actor), tenant.id or 0, PLUGINS_MANAGE)
            with acting_for_tenant(session, tenant.id or 0):
                existing = _activation(session, tenant.id or 0, plugin)
            with acting_for_tenant(session, tenant.id or 0):
                already = existing is not None and existing.enabled
            if already:
                raise Conflict(
                    f"plugin {plugin!r} is already enabled at {tenant_code!r}", code="plugin.already_enabled"
                )
            self._sync_declarations(session, plugin)
            self._enable_at(session, actor, plugin, tenant, settings, with_dependencies=with_dependencies)
        return self.view(plugin, tenant_code)

    def _sync_declarations(self, session: Session, plugin: str) -> None:
        """Make the plugin's declared permissions and role templates (and its dependencies')
        exist before anyone can be granted them (idempotent)."""
        seen: set[str] = set()
        pending = [plugin]
        while pending:
            name = pending.pop()
            if name in seen or name not in self._host.plugins:
                continue
            seen.add(name)
            manifest = self._host.plugins[name].manifest
            self._authz.sync_declarations(
                session,
                declared_by=name,
                permissions=[PermissionSpec(p.name, p.description) for p in manifest.permissions],
                templates=[RoleTemplate(r.name, r.description, r.permissions) for r in manifest.roles],
            )
            pending.extend(manifest.requires)

    def _enable_at(
        self,
        session: Session,
        actor: Actor,
        plugin: str,
        tenant: Tenant,
        settings: Mapping[str, Any] | None,
        *,
        with_dependencies: bool,
        locked_by: int | None = None,
        trail: tuple[str, ...] = (),
    ) -> None:
        loaded = enablable_plugin(session, self._host, plugin, tenant)
        tenant_id = tenant.id or 0
        missing = requirements_to_enable(session, plugin, loaded, tenant, with_dependencies=with_dependencies)
        for dep in missing:
            if dep not in trail:
                self._enable_at(
                    session,
                    actor,
                    dep,
                    tenant,
                    None,
                    with_dependencies=True,
                    locked_by=locked_by,
                    trail=(*trail, plugin),
                )
        with acting_for_tenant(session, tenant_id):
            row = _activation(session, tenant_id, plugin)
            old = self._stored(row) if row else {}
            if settings:
                refuse_envelopes(plugin, settings)
            wanted = plugin_settings.merge_secrets(loaded.manifest.settings_schema, settings or old, old)
            valid = plugin_settings.validate(plugin, loaded.manifest.settings_schema, wanted)
            if row is None:
                row = PluginActivation(tenant_id=tenant_id, plugin=plugin, updated_by=str(actor))
                session.add(row)
            row.enabled, row.version = True, loaded.version
            row.settings = self._to_store(loaded, valid)
            row.locked_by = locked_by if locked_by is not None else row.locked_by
            row.updated_by, row.updated_at = str(actor), utcnow()
            session.flush()
            self._run_hook(session, "nentang_plugin_enable", loaded, tenant, actor, valid, settings=valid)
            self._audit.append(
                session,
                tenant_id=tenant_id,
                actor=actor,
                action="plugin.enable",
                target=plugin,
                detail={
                    "version": loaded.version,
                    "settings": plugin_settings.masked(loaded.manifest.settings_schema, valid),
                    "locked_by": locked_by,
                    "as_dependency_of": trail[-1] if trail else None,
                },
            )
            payload = {"plugin": plugin, "version": loaded.version, "as_dependency_of": trail[-1] if trail else None}
            emit(session, tenant_id=tenant_id, event_type="kernel.plugin.enabled", payload=payload, actor=str(actor))
            bump(session, topics.ACTIVATION, str(tenant_id))

    def disable(self, *, actor: Actor, plugin: str, tenant_code: str, checked: bool = True) -> ActivationView:
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, PLUGINS_MANAGE)
            with acting_for_tenant(session, tenant_id):
                found = _activation(session, tenant_id, plugin)
                row = disablable_row(session, self._host, plugin, found, tenant_id, tenant_code)
                loaded = self._host.plugins.get(plugin)
                if loaded is not None:
                    self._run_hook(session, "nentang_plugin_disable", loaded, tenant, actor, self._stored(row))
                row.enabled, row.updated_by, row.updated_at = False, str(actor), utcnow()
                session.flush()
                self._audit.append(
                    session, tenant_id=tenant_id, actor=actor, action="plugin.disable", target=plugin, detail={}
                )
                gone = {"plugin": plugin}
                emit(session, tenant_id=tenant_id, event_type="kernel.plugin.disabled", payload=gone, actor=str(actor))
                bump(session, topics.ACTIVATION, str(tenant_id))
        return self.view(plugin, tenant_code)

    # -- settings -------------------------------------------------------------------------

    def update_settings(
        self, *, actor: Actor, plugin: str, tenant_code: str, settings: Mapping[str, Any], checked: bool = True
    ) -> ActivationView:
        loaded = registered_plugin(self._host, plugin)
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, PLUGINS_MANAGE)
            with acting_for_tenant(session, tenant_id):
                row = _activation(session, tenant_id, plugin)
                if row is None:
                    raise NotFound(f"plugin {plugin!r} was never enabled at {tenant_code!r}", code="plugin.not_enabled")
                old = self._stored(row)
                refuse_envelopes(plugin, settings)
                schema = loaded.manifest.settings_schema
                valid = plugin_settings.validate(plugin, schema, plugin_settings.merge_secrets(schema, settings, old))
                row.settings, row.updated_by, row.updated_at = self._to_store(loaded, valid), str(actor), utcnow()
                changed = sorted(k for k in set(old) | set(valid) if old.get(k) != valid.get(k))
                self._audit.append(
                    session,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="plugin.settings",
                    target=plugin,
                    detail={"changed": changed},
                )
                bump(session, topics.ACTIVATION, str(tenant_id))
        return self.view(plugin, tenant_code)

    # -- policies for the tenants below ---------------------------------------------------

    def set_policy(
        self,
        *,
        actor: Actor,
        plugin: str,
        tenant_code: str,
        allowed: bool | None = None,
        locked: bool | None = None,
        checked: bool = True,
    ) -> None:
        """Allow or forbid ``plugin`` below ``tenant_code``, and lock it on there (or unlock)."""
        loaded = registered_plugin(self._host, plugin)
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, PLUGINS_MANAGE)
            policy = session.get(PluginPolicy, (tenant_id, plugin)) or PluginPolicy(
                tenant_id=tenant_id, plugin=plugin, updated_by=str(actor)
            )
            below = descendants(session, tenant)
            if allowed is False:
                if locked:
                    raise ValidationFailed("a plugin cannot be both locked on and not allowed", code="plugin.policy")
                require_enabled_nowhere_below(session, plugin, below, tenant_code)
                policy.allowed = False
            elif allowed is True:
                policy.allowed = True
            if locked is True:
                if not policy.allowed:
                    raise ValidationFailed("a plugin that is not allowed cannot be locked on", code="plugin.policy")
                for child in below:
                    if child.kind not in loaded.manifest.levels:
                        continue
                    with acting_for_tenant(session, child.id or 0):
                        row = _activation(session, child.id or 0, plugin)
                    if row is not None and row.enabled:
                        with acting_for_tenant(session, child.id or 0):
                            row.locked_by = tenant_id
                    else:
                        self._enable_at(
                            session, actor, plugin, child, None, with_dependencies=False, locked_by=tenant_id
                        )
                policy.locked = True
            elif locked is False:
                for child in below:
                    with acting_for_tenant(session, child.id or 0):
                        row = _activation(session, child.id or 0, plugin)
                        if row is not None and row.locked_by == tenant_id:
                            row.locked_by = None
                policy.locked = False
            policy.updated_by, policy.updated_at = str(actor), utcnow()
            session.add(policy)
            session.flush()
            self._audit.append(
                session,
                tenant_id=tenant_id,
                actor=actor,
                action="plugin.policy",
                target=plugin,
                detail={"allowed": policy.allowed, "locked": policy.locked},
            )
            bump(session, topics.ACTIVATION)

    # -- reading --------------------------------------------------------------------------

    def view(self, plugin: str, tenant_code: str) -> ActivationView:
        for item in self.list(tenant_code):
            if item.plugin == plugin:
                return item
        raise NotFound(f"plugin {plugin!r} is not installed", code="plugin.not_installed")

    def list(self, tenant_code: str) -> list[ActivationView]:
        """Every registered plugin as it stands at the tenant (settings masked)."""
        with self._db.platform() as session:
            return activation_views(session, self._host, _tenant(session, tenant_code), tenant_code)

    # -- helpers --------------------------------------------------------------------------

    def _run_hook(
        self,
        session: Session,
        hook: str,
        loaded: LoadedPlugin,
        tenant: Tenant,
        actor: Actor,
        ctx_settings: Mapping[str, Any],
        **kwargs: Any,
    ) -> None:
        ref = tenant_ref(TenantInfo.of(tenant))
        try:
            self._dispatcher.call_one(
                loaded.name, hook, ref, actor=str(actor), session=session, plugin_settings=ctx_settings, **kwargs
            )
        except NentangError:
            raise
        except Exception as exc:
            raise ValidationFailed(
                f"plugin {loaded.name!r} failed in {hook} at {tenant.code!r}: {type(exc).__name__}: {exc}",
                code="plugin.hook_failed",
            ) from exc

    def _stored(self, row: PluginActivation) -> dict[str, Any]:
        """A row's settings in plaintext (secrets opened; a plaintext row from before sealing reads as is)."""
        return self._secrets.open_secrets(plugin_settings.loads(row.settings))

    def _to_store(self, loaded: LoadedPlugin, valid: Mapping[str, Any]) -> str:
        """Validated settings as stored: every secret sealed with the current key."""
        return plugin_settings.dumps(self._secrets.seal_secrets(loaded.manifest.settings_schema, valid))


def _tenant(session: Session, code: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.code == code))
    if tenant is None:
        raise TenantNotFound(f"no tenant with code {code!r}")
    return tenant


def _activation(session: Session, tenant_id: int, plugin: str) -> PluginActivation | None:
    return session.get(PluginActivation, (tenant_id, plugin))
