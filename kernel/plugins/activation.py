"""Enabling and disabling plugins per tenant at runtime, and the province's allow/lock rules.

Every change is one transaction: permission check, the rules below, the plugin's own
enable/disable hook, the activation rows, an audit entry, and the change-version bump that tells
every worker — all committed together, or all rolled back with the reason.

Rules for enabling plugin P at tenant T:

- the actor holds ``kernel.plugins.manage`` at T (operators on the command line are exempt);
- P is registered on this worker and not quarantined (for the platform, or for T);
- in production mode, P's installed files still match its approval in ``registry.toml``;
- T's kind is one of the manifest's ``levels``;
- no ancestor of T has set P to "not allowed" for the tenants below it;
- every plugin P requires is enabled at T (or is enabled with it, on request).

Disabling keeps P's data; it is refused where an ancestor locked P on, or while another plugin
enabled at T requires P.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, final

from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.permissions import PLUGINS_MANAGE, PermissionSpec, RoleTemplate
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import DataScope, acting_for_tenant, scoped
from nentang.kernel.events.outbox import emit
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.approval import verify_installed
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.dispatch import Dispatcher
from nentang.kernel.plugins.host import LoadedPlugin, PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginPolicy, PluginQuarantine
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.tenancy.models import Tenant, path_ids, subtree_upper_bound, utcnow
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import Conflict, NentangError, NotFound, PermissionDenied, TenantNotFound, ValidationFailed


@final
@dataclass(frozen=True, slots=True)
class ActivationView:
    plugin: str
    tenant: str
    enabled: bool
    #: Settings with secrets masked.
    settings: Mapping[str, Any]
    version: str
    #: Code of the tenant whose lock keeps it on here, if any.
    locked_by: str | None
    updated_by: str
    updated_at: datetime | None
    #: Why it is out of service here, if it is.
    quarantined: str | None = None


@final
class ActivationService:
    def __init__(
        self, *, db: Database, host: PluginHost, dispatcher: Dispatcher, authz: Authorizer, audit: AuditLog
    ) -> None:
        self._db = db
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
        loaded = self._loaded(plugin)
        tenant_id = tenant.id or 0
        self._check_approval(loaded)
        if tenant.kind not in loaded.manifest.levels:
            raise ValidationFailed(
                f"plugin {plugin!r} may be enabled at {', '.join(loaded.manifest.levels)} level only; "
                f"{tenant.code!r} is a {tenant.kind}",
                code="plugin.level",
            )
        blocker = _disallowing_ancestor(session, plugin, tenant)
        if blocker is not None:
            raise PermissionDenied(
                f"{blocker.code!r} does not allow plugin {plugin!r} in the tenants below it", code="plugin.not_allowed"
            )
        if session.get(PluginQuarantine, (tenant_id, plugin)) is not None:
            raise ValidationFailed(
                f"plugin {plugin!r} is quarantined at {tenant.code!r}; release it first", code="plugin.quarantined"
            )
        with acting_for_tenant(session, tenant_id):
            missing = [dep for dep in loaded.manifest.requires if not _is_enabled(session, tenant_id, dep)]
        if missing and not with_dependencies:
            raise ValidationFailed(
                f"plugin {plugin!r} requires {', '.join(missing)}, not enabled at {tenant.code!r}; "
                "enable them first, or enable with dependencies",
                code="plugin.missing_dependency",
            )
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
            old = plugin_settings.loads(row.settings) if row else {}
            wanted = plugin_settings.merge_secrets(loaded.manifest.settings_schema, settings or old, old)
            valid = plugin_settings.validate(plugin, loaded.manifest.settings_schema, wanted)
            if row is None:
                row = PluginActivation(tenant_id=tenant_id, plugin=plugin, updated_by=str(actor))
                session.add(row)
            row.enabled, row.settings, row.version = True, plugin_settings.dumps(valid), loaded.version
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
                row = _activation(session, tenant_id, plugin)
                if row is None or not row.enabled:
                    raise Conflict(f"plugin {plugin!r} is not enabled at {tenant_code!r}", code="plugin.not_enabled")
                if row.locked_by is not None:
                    locker = session.get(Tenant, row.locked_by)
                    by = locker.code if locker else row.locked_by
                    raise PermissionDenied(
                        f"plugin {plugin!r} is locked on at {tenant_code!r} by {by!r}", code="plugin.locked"
                    )
                dependents = sorted(
                    other
                    for other in _enabled_plugins(session, tenant_id)
                    if other != plugin
                    and other in self._host.plugins
                    and plugin in self._host.plugins[other].manifest.requires
                )
                if dependents:
                    raise ValidationFailed(
                        f"plugin {plugin!r} is required by {', '.join(dependents)} at {tenant_code!r}; "
                        "disable them first",
                        code="plugin.has_dependents",
                    )
                loaded = self._host.plugins.get(plugin)
                if loaded is not None:
                    self._run_hook(
                        session, "nentang_plugin_disable", loaded, tenant, actor, plugin_settings.loads(row.settings)
                    )
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
        loaded = self._loaded(plugin)
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, PLUGINS_MANAGE)
            with acting_for_tenant(session, tenant_id):
                row = _activation(session, tenant_id, plugin)
                if row is None:
                    raise NotFound(f"plugin {plugin!r} was never enabled at {tenant_code!r}", code="plugin.not_enabled")
                old = plugin_settings.loads(row.settings)
                schema = loaded.manifest.settings_schema
                valid = plugin_settings.validate(plugin, schema, plugin_settings.merge_secrets(schema, settings, old))
                row.settings, row.updated_by, row.updated_at = plugin_settings.dumps(valid), str(actor), utcnow()
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
        loaded = self._loaded(plugin)
        with self._db.platform() as session, session.begin():
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            if checked:
                self._authz.require_in(session, str(actor), tenant_id, PLUGINS_MANAGE)
            policy = session.get(PluginPolicy, (tenant_id, plugin)) or PluginPolicy(
                tenant_id=tenant_id, plugin=plugin, updated_by=str(actor)
            )
            below = _descendants(session, tenant)
            if allowed is False:
                if locked:
                    raise ValidationFailed("a plugin cannot be both locked on and not allowed", code="plugin.policy")
                enabled_below = self._enabled_among(session, plugin, below)
                if enabled_below:
                    shown = ", ".join(t.code for t in enabled_below[:5])
                    raise ValidationFailed(
                        f"plugin {plugin!r} is enabled in {len(enabled_below)} tenant(s) below {tenant_code!r} "
                        f"({shown}{', ...' if len(enabled_below) > 5 else ''}); disable it there first",
                        code="plugin.enabled_below",
                    )
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
            tenant = _tenant(session, tenant_code)
            tenant_id = tenant.id or 0
            quarantines = {
                q.plugin: q.reason
                for q in session.scalars(select(PluginQuarantine).where(PluginQuarantine.tenant_id == tenant_id))
            }
            with acting_for_tenant(session, tenant_id):
                rows = {r.plugin: r for r in session.scalars(select(PluginActivation))}
            lockers = {
                t.id: t.code for t in session.scalars(select(Tenant).where(Tenant.id.in_(path_ids(tenant.path))))
            }
            views = []
            for name in sorted(self._host.plugins.keys() | rows.keys()):
                row = rows.get(name)
                loaded = self._host.plugins.get(name)
                schema = loaded.manifest.settings_schema if loaded else {}
                values = plugin_settings.loads(row.settings) if row else {}
                views.append(
                    ActivationView(
                        plugin=name,
                        tenant=tenant_code,
                        enabled=bool(row and row.enabled),
                        settings=plugin_settings.masked(schema, values)
                        if loaded
                        else {k: plugin_settings.MASK for k in values},
                        version=row.version if row else (loaded.version if loaded else ""),
                        locked_by=lockers.get(row.locked_by) if row and row.locked_by else None,
                        updated_by=row.updated_by if row else "",
                        updated_at=row.updated_at if row else None,
                        quarantined=quarantines.get(name)
                        or (self._host.quarantined[name].reason if name in self._host.quarantined else None),
                    )
                )
            return views

    # -- helpers --------------------------------------------------------------------------

    def _loaded(self, plugin: str) -> LoadedPlugin:
        loaded = self._host.plugins.get(plugin)
        if loaded is not None:
            return loaded
        quarantined = self._host.quarantined.get(plugin)
        if quarantined is not None:
            details = "; ".join(str(f) for f in quarantined.findings[:5])
            raise ValidationFailed(
                f"plugin {plugin!r} is quarantined: {quarantined.reason}" + (f" ({details})" if details else ""),
                code="plugin.quarantined",
            )
        raise NotFound(f"plugin {plugin!r} is not installed", code="plugin.not_installed")

    def _check_approval(self, loaded: LoadedPlugin) -> None:
        if self._host.mode != "production":
            return
        findings = verify_installed(loaded.name, loaded.version, loaded.package_dir, self._host.approvals())
        if findings:
            raise PermissionDenied(
                f"plugin {loaded.name!r} {loaded.version} cannot be enabled in production: "
                + "; ".join(str(f) for f in findings[:10]),
                code="plugin.not_approved",
            )

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

    def _enabled_among(self, session: Session, plugin: str, tenants: list[Tenant]) -> list[Tenant]:
        if not tenants:
            return []
        ids = frozenset(t.id or 0 for t in tenants)
        with scoped(session, DataScope.subtree(0, ids)):
            enabled_ids = set(
                session.scalars(
                    select(PluginActivation.tenant_id).where(
                        PluginActivation.plugin == plugin, PluginActivation.enabled.is_(True)
                    )
                )
            )
        return [t for t in tenants if t.id in enabled_ids]


def _tenant(session: Session, code: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.code == code))
    if tenant is None:
        raise TenantNotFound(f"no tenant with code {code!r}")
    return tenant


def _activation(session: Session, tenant_id: int, plugin: str) -> PluginActivation | None:
    return session.get(PluginActivation, (tenant_id, plugin))


def _is_enabled(session: Session, tenant_id: int, plugin: str) -> bool:
    row = _activation(session, tenant_id, plugin)
    return bool(row and row.enabled)


def _enabled_plugins(session: Session, tenant_id: int) -> list[str]:
    return list(
        session.scalars(
            select(PluginActivation.plugin).where(
                PluginActivation.tenant_id == tenant_id, PluginActivation.enabled.is_(True)
            )
        )
    )


def _disallowing_ancestor(session: Session, plugin: str, tenant: Tenant) -> Tenant | None:
    ancestors = path_ids(tenant.path)[:-1]
    if not ancestors:
        return None
    policy = session.scalars(
        select(PluginPolicy).where(
            PluginPolicy.plugin == plugin, PluginPolicy.tenant_id.in_(ancestors), PluginPolicy.allowed.is_(False)
        )
    ).first()
    return session.get(Tenant, policy.tenant_id) if policy else None


def _descendants(session: Session, tenant: Tenant) -> list[Tenant]:
    upper = subtree_upper_bound(tenant.path)
    return list(
        session.scalars(
            select(Tenant).where(Tenant.path > tenant.path, Tenant.path < upper).order_by(Tenant.depth, Tenant.code)
        )
    )
