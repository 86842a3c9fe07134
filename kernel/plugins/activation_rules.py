"""The rules that decide whether a plugin may be enabled or disabled at a tenant.

Kept apart from :class:`~nentang.kernel.plugins.activation.ActivationService`, which carries a change
out (hook, rows, audit, version bump), so that the rules read as one list and each refusal's wording
and code live in one place. Every function runs inside the caller's transaction and only reads; a
refusal raises, and the caller's transaction rolls back with it.

Rules for enabling plugin P at tenant T:

- the actor holds ``kernel.plugins.manage`` at T (operators on the command line are exempt; checked by
  the service, through the authorizer);
- P is registered on this worker and not quarantined (for the platform, or for T);
- in production mode, P's installed files still match its approval in ``registry.toml``;
- T's kind is one of the manifest's ``levels``;
- no ancestor of T has set P to "not allowed" for the tenants below it;
- every plugin P requires is enabled at T (or is enabled with it, on request).

Disabling keeps P's data; it is refused where an ancestor locked P on, or while another plugin
enabled at T requires P. An ancestor may forbid P below it only while P is enabled nowhere below.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.data.scope import DataScope, acting_for_tenant, scoped
from nentang.kernel.plugins.approval import verify_installed
from nentang.kernel.plugins.host import LoadedPlugin, PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginPolicy, PluginQuarantine
from nentang.kernel.tenancy.models import Tenant, path_ids, subtree_upper_bound
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


def registered_plugin(host: PluginHost, plugin: str) -> LoadedPlugin:
    """The plugin as registered on this worker; refused if it is quarantined or not installed."""
    loaded = host.plugins.get(plugin)
    if loaded is not None:
        return loaded
    quarantined = host.quarantined.get(plugin)
    if quarantined is not None:
        details = "; ".join(str(f) for f in quarantined.findings[:5])
        raise ValidationFailed(
            f"plugin {plugin!r} is quarantined: {quarantined.reason}" + (f" ({details})" if details else ""),
            code="plugin.quarantined",
        )
    raise NotFound(f"plugin {plugin!r} is not installed", code="plugin.not_installed")


def enablable_plugin(session: Session, host: PluginHost, plugin: str, tenant: Tenant) -> LoadedPlugin:
    """The plugin as registered, once every rule for enabling it at ``tenant`` holds, its requirements
    aside (see :func:`requirements_to_enable`)."""
    loaded = registered_plugin(host, plugin)
    _require_approved(host, loaded)
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
    if session.get(PluginQuarantine, (tenant.id or 0, plugin)) is not None:
        raise ValidationFailed(
            f"plugin {plugin!r} is quarantined at {tenant.code!r}; release it first", code="plugin.quarantined"
        )
    return loaded


def requirements_to_enable(
    session: Session, plugin: str, loaded: LoadedPlugin, tenant: Tenant, *, with_dependencies: bool
) -> list[str]:
    """The plugins ``plugin`` requires that are not enabled at ``tenant``, to enable with it; refused
    unless ``with_dependencies`` asks for that."""
    tenant_id = tenant.id or 0
    with acting_for_tenant(session, tenant_id):
        missing = [dep for dep in loaded.manifest.requires if not _is_enabled(session, tenant_id, dep)]
    if missing and not with_dependencies:
        raise ValidationFailed(
            f"plugin {plugin!r} requires {', '.join(missing)}, not enabled at {tenant.code!r}; "
            "enable them first, or enable with dependencies",
            code="plugin.missing_dependency",
        )
    return missing


def disablable_row(
    session: Session,
    host: PluginHost,
    plugin: str,
    row: PluginActivation | None,
    tenant_id: int,
    tenant_code: str,
) -> PluginActivation:
    """The activation row of ``plugin`` at the tenant, once the rules for disabling it there hold.

    Call it while acting for the tenant: the rows it reads are the tenant's.
    """
    if row is None or not row.enabled:
        raise Conflict(f"plugin {plugin!r} is not enabled at {tenant_code!r}", code="plugin.not_enabled")
    if row.locked_by is not None:
        locker = session.get(Tenant, row.locked_by)
        by = locker.code if locker else row.locked_by
        raise PermissionDenied(f"plugin {plugin!r} is locked on at {tenant_code!r} by {by!r}", code="plugin.locked")
    dependents = sorted(
        other
        for other in _enabled_plugins(session, tenant_id)
        if other != plugin and other in host.plugins and plugin in host.plugins[other].manifest.requires
    )
    if dependents:
        raise ValidationFailed(
            f"plugin {plugin!r} is required by {', '.join(dependents)} at {tenant_code!r}; disable them first",
            code="plugin.has_dependents",
        )
    return row


def require_enabled_nowhere_below(session: Session, plugin: str, below: list[Tenant], tenant_code: str) -> None:
    """Refuse to forbid ``plugin`` below a tenant while it is still enabled in some tenant there."""
    enabled_below = _enabled_among(session, plugin, below)
    if enabled_below:
        shown = ", ".join(t.code for t in enabled_below[:5])
        raise ValidationFailed(
            f"plugin {plugin!r} is enabled in {len(enabled_below)} tenant(s) below {tenant_code!r} "
            f"({shown}{', ...' if len(enabled_below) > 5 else ''}); disable it there first",
            code="plugin.enabled_below",
        )


def descendants(session: Session, tenant: Tenant) -> list[Tenant]:
    """Every tenant below ``tenant``, shallowest first: where its allow and lock policies reach."""
    upper = subtree_upper_bound(tenant.path)
    return list(
        session.scalars(
            select(Tenant).where(Tenant.path > tenant.path, Tenant.path < upper).order_by(Tenant.depth, Tenant.code)
        )
    )


def _require_approved(host: PluginHost, loaded: LoadedPlugin) -> None:
    if host.mode != "production":
        return
    findings = verify_installed(loaded.name, loaded.version, loaded.package_dir, host.approvals())
    if findings:
        raise PermissionDenied(
            f"plugin {loaded.name!r} {loaded.version} cannot be enabled in production: "
            + "; ".join(str(f) for f in findings[:10]),
            code="plugin.not_approved",
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


def _is_enabled(session: Session, tenant_id: int, plugin: str) -> bool:
    row = session.get(PluginActivation, (tenant_id, plugin))
    return bool(row and row.enabled)


def _enabled_plugins(session: Session, tenant_id: int) -> list[str]:
    return list(
        session.scalars(
            select(PluginActivation.plugin).where(
                PluginActivation.tenant_id == tenant_id, PluginActivation.enabled.is_(True)
            )
        )
    )


def _enabled_among(session: Session, plugin: str, tenants: list[Tenant]) -> list[Tenant]:
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
