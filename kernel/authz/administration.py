"""Delegated administration: who may create roles and grant them, where.

The rules, each checked in the same transaction as the write it guards:

- an administrator acts only at tenants where it holds the managing permission
  (``kernel.roles.manage`` / ``kernel.grants.manage``), which means inside its own subtree;
- a role may contain only permissions the administrator itself holds where the role lives;
- a role may be granted only where it is visible (templates everywhere; a custom role in the
  subtree of the tenant that defined it) and only if the administrator holds every permission
  of the role at the tenant of the grant;
- a custom role may be deleted, by whoever may manage roles where it was defined, only once no
  grant uses it: its holders would otherwise lose permissions without a revoke on record;
- the last administrator grant of the root tenant cannot be revoked.

So every permission anyone holds traces back, through a chain of such grants, to an operator's
bootstrap grant: nobody can hand out, or give themselves, more than they hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nentang.kernel.authz.facts import Facts, GrantFacts, RoleFacts, TenantFacts, read_facts
from nentang.kernel.authz.models import Grant, Role, RolePermission
from nentang.kernel.authz.permissions import GRANTS_MANAGE, ROLES_MANAGE
from nentang.kernel.identity.actor import Actor
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.tenancy.models import path_ids, utcnow
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, TenantNotFound, ValidationFailed

if TYPE_CHECKING:
    from nentang.kernel.authz.service import Authorizer

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
_PRINCIPAL = re.compile(r"^(user|token):[1-9][0-9]{0,18}$")


def create_role(
    authz: Authorizer,
    session: Session,
    *,
    actor: Actor,
    tenant_id: int,
    name: str,
    permissions: Iterable[str],
    description: str,
) -> Role:
    wanted = frozenset(permissions)
    if not _ROLE_NAME.match(name or ""):
        raise ValidationFailed(f"role name {name!r}: 2-64 characters, lower-case letters, digits, '_', '.', '-'")
    if not wanted:
        raise ValidationFailed(f"role {name!r} needs at least one permission")
    facts = read_facts(session, tenant_id=tenant_id, actor=str(actor), permissions=wanted, role_name_at_tenant=name)
    tenant = _tenant(facts, tenant_id)
    _check_declared(wanted, facts.declared)
    _require(facts.held, ROLES_MANAGE, actor, tenant)
    _require_subset(wanted, facts.held, actor, tenant, what=f"role {name!r}")
    if facts.name_taken:
        raise Conflict(f"tenant {tenant.code!r} already has a role named {name!r}", code="authz.role_exists")
    role = Role(tenant_id=tenant_id, name=name, description=description, declared_by="custom", created_by=str(actor))
    session.add(role)
    session.flush()
    for perm in sorted(wanted):
        session.add(RolePermission(role_id=role.id or 0, permission=perm))
    session.flush()
    bump(session, topics.AUTHZ, f"role:{role.id}")
    authz.audit.append(  # last: see grant()
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="role.create",
        target=name,
        detail={"role_id": role.id, "permissions": sorted(wanted)},
    )
    return role


def update_role(authz: Authorizer, session: Session, *, actor: Actor, role_id: int, permissions: Iterable[str]) -> Role:
    wanted = frozenset(permissions)
    role, defined_at = _custom_role(session, role_id, instead="define a custom role instead")
    if not wanted:
        raise ValidationFailed(f"role {role.name!r} needs at least one permission")
    facts = read_facts(session, tenant_id=defined_at, actor=str(actor), role_id=role_id, permissions=wanted)
    tenant = _tenant(facts, defined_at)
    _check_declared(wanted, facts.declared)
    _require(facts.held, ROLES_MANAGE, actor, tenant)
    _require_subset(wanted, facts.held, actor, tenant, what=f"role {role.name!r}")
    current = set(facts.roles[0].permissions) if facts.roles else set()
    if wanted - current:
        session.execute(
            insert(RolePermission), [{"role_id": role_id, "permission": p} for p in sorted(wanted - current)]
        )
    if current - wanted:
        session.execute(
            delete(RolePermission).where(
                RolePermission.role_id == role_id, RolePermission.permission.in_(sorted(current - wanted))
            )
        )
    role.updated_at = utcnow()
    session.flush()
    bump(session, topics.AUTHZ, f"role:{role_id}")
    authz.audit.append(  # last: see grant()
        session,
        tenant_id=defined_at,
        actor=actor,
        action="role.update",
        target=role.name,
        detail={"role_id": role_id, "added": sorted(wanted - current), "removed": sorted(current - wanted)},
    )
    return role


def delete_role(authz: Authorizer, session: Session, *, actor: Actor, role_id: int) -> None:
    role, defined_at = _custom_role(session, role_id, instead="only a custom role can be deleted")
    facts = read_facts(session, tenant_id=defined_at, actor=str(actor), role_id=role_id, count_role_grants=True)
    tenant = _tenant(facts, defined_at)
    _require(facts.held, ROLES_MANAGE, actor, tenant)
    # Checked after the permission, so that only who may manage the role learns how widely it is granted.
    if facts.role_grants:
        raise Conflict(
            f"role {role.name!r} is still used by {facts.role_grants} grant(s); revoke them before deleting it",
            code="authz.role_in_use",
        )
    permissions = sorted(facts.roles[0].permissions) if facts.roles else []
    session.execute(delete(RolePermission).where(RolePermission.role_id == role_id))
    session.execute(delete(Role).where(Role.id == role_id))
    session.expunge(role)  # the row is gone: a later get() in this session must not find it
    bump(session, topics.AUTHZ, f"role:{role_id}")  # other workers drop the role's policy lines
    authz.audit.append(  # last: see grant()
        session,
        tenant_id=tenant.id,
        actor=actor,
        action="role.delete",
        target=role.name,
        detail={"role_id": role_id, "permissions": permissions},
    )


def grant(
    authz: Authorizer,
    session: Session,
    *,
    actor: Actor,
    principal: str,
    role: str,
    tenant_id: int,
    checked: bool = True,
) -> Grant:
    """Grant ``role`` to ``principal`` at ``tenant_id``: one read, one insert, the bump, the audit entry.

    The delegation checks read their facts in this transaction (one query, :func:`read_facts`), so
    the grant cannot slip between a check and its write. The audit entry comes last: on PostgreSQL it
    switches the transaction to the tenant's row-level-security settings, and switching back costs a
    round trip only if another statement follows.
    """
    if not _PRINCIPAL.match(principal or ""):
        raise ValidationFailed(f"principal {principal!r} must look like 'user:<id>' or 'token:<id>'")
    facts = read_facts(
        session, tenant_id=tenant_id, actor=str(actor) if checked else None, principal=principal, visible_role=role
    )
    tenant = _tenant(facts, tenant_id)
    if checked:  # permission first: a caller without it learns nothing of which principals or roles exist
        _require(facts.held, GRANTS_MANAGE, actor, tenant)
    if not facts.principal_exists:
        raise ValidationFailed(f"principal {principal!r} does not exist", code="authz.unknown_principal")
    role_row = _visible_role(facts.roles, role, tenant)
    if checked:
        _require_subset(role_row.permissions, facts.held, actor, tenant, what=f"role {role_row.name!r}")
    # One statement instead of a savepoint around the insert: a grant is on many hot paths.
    values = {
        "principal": principal,
        "role_id": role_row.id,
        "tenant_id": tenant_id,
        "granted_by": str(actor),
        "granted_at": utcnow(),
    }
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    grant_id = session.scalar(dialect_insert(Grant).values(**values).on_conflict_do_nothing().returning(Grant.id))
    if grant_id is None:
        raise Conflict(
            f"{principal} already holds role {role_row.name!r} at {tenant.code!r}", code="authz.grant_exists"
        )
    row = Grant(id=grant_id, **values)  # a detached record of what was inserted
    bump(session, topics.AUTHZ, principal)
    authz.audit.append(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="grant.create",
        target=principal,
        detail={"role": role_row.name, "role_id": role_row.id, "grant_id": row.id, "checked": checked},
    )
    return row


def revoke(authz: Authorizer, session: Session, *, actor: Actor, grant_id: int, checked: bool = True) -> None:
    facts = read_facts(session, grant_id=grant_id, actor=str(actor) if checked else None)
    found = facts.grant
    if found is None or facts.tenant is None:
        raise grant_not_found(grant_id)
    tenant = facts.tenant
    if checked:
        _require(facts.held, GRANTS_MANAGE, actor, tenant)
    _protect_last_root_admin(found, tenant, facts)
    session.execute(delete(Grant).where(Grant.id == grant_id))
    bump(session, topics.AUTHZ, found.principal)
    authz.audit.append(  # last: see grant()
        session,
        tenant_id=tenant.id,
        actor=actor,
        action="grant.revoke",
        target=found.principal,
        detail={"role": found.role_name, "grant_id": grant_id},
    )


def grant_not_found(grant_id: int) -> NotFound:
    """The answer for a grant id nobody holds — and for one the caller may not manage."""
    return NotFound(f"no grant with id {grant_id}", code="authz.grant_not_found")


def revoke_all_for(authz: Authorizer, session: Session, *, actor: Actor, principal: str) -> int:
    """Remove every grant of ``principal`` (a revoked token, a disabled user). The caller has
    already authorised the act that implies it."""
    ids = list(session.scalars(select(Grant.id).where(Grant.principal == principal)))
    for grant_id in ids:
        revoke(authz, session, actor=actor, grant_id=grant_id, checked=False)
    return len(ids)


def _custom_role(session: Session, role_id: int, *, instead: str) -> tuple[Role, int]:
    """The custom role ``role_id`` and the tenant that defined it; a template is refused, being
    the kernel's or a plugin's declaration, not an administrator's to change."""
    role = session.get(Role, role_id)  # the service already loaded it: no statement
    if role is None:
        raise NotFound(f"no role with id {role_id}", code="authz.role_not_found")
    if role.tenant_id is None:
        raise PermissionDenied(
            f"role {role.name!r} is a template declared by {role.declared_by}; {instead}",
            code="authz.template_read_only",
        )
    return role, role.tenant_id


def _tenant(facts: Facts, tenant_id: int) -> TenantFacts:
    if facts.tenant is None:
        raise TenantNotFound(f"no tenant with id {tenant_id}")
    return facts.tenant


def _visible_role(candidates: list[RoleFacts], name: str, tenant: TenantFacts) -> RoleFacts:
    """The role called ``name`` that is nearest to ``tenant`` on its path, else the template."""
    if not candidates:
        raise ValidationFailed(f"no role {name!r} is visible at tenant {tenant.code!r}", code="authz.unknown_role")
    depth = {tenant_id: i for i, tenant_id in enumerate(path_ids(tenant.path))}
    return max(candidates, key=lambda r: -1 if r.tenant_id is None else depth[r.tenant_id])


def _check_declared(wanted: frozenset[str], known: frozenset[str]) -> None:
    unknown = sorted(wanted - known)
    if unknown:
        raise ValidationFailed(f"unknown permission(s): {', '.join(unknown)}", code="authz.unknown_permission")


def _require(held: frozenset[str], permission: str, actor: Actor, tenant: TenantFacts) -> None:
    if permission not in held:
        # Worded as the GraphQL layer's own check: which of the two refuses must not show in the answer.
        raise PermissionDenied(f"{actor} may not {permission!r} at tenant {tenant.code!r}", code="permission.denied")


def _require_subset(
    wanted: frozenset[str], held: frozenset[str], actor: Actor, tenant: TenantFacts, *, what: str
) -> None:
    missing = sorted(wanted - held)
    if missing:
        raise PermissionDenied(
            f"{actor} cannot hand out {what} at {tenant.code!r}: it does not itself hold {', '.join(missing)} there",
            code="authz.escalation",
        )


def _protect_last_root_admin(row: GrantFacts, tenant: TenantFacts, facts: Facts) -> None:
    """Keep at least one *user* administering the root. Tokens are integrations, not
    administrators: revoking a token's grants is never blocked, and they do not count."""
    if tenant.parent_id is not None or not row.principal.startswith("user:"):
        return
    if row.role_id != facts.admin_template_id or facts.other_admins:
        return
    raise Conflict(
        f"{row.principal} is the last administrator of the central tenant {tenant.code!r}; "
        "grant the role to someone else first",
        code="authz.last_admin",
    )
