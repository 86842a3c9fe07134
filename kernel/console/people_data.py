"""Reads for the People pages: a unit's users a page at a time, a user's grants, the roles one may grant.

- :func:`users_page`: users homed at a unit (or anywhere in its subtree), searched by username or
  display name, by username after a cursor.
- :func:`grants_of`: a user's grants at units inside the acting unit's subtree.
- :func:`role_offers`: every role visible at a unit (the templates and the custom roles defined there
  or above), each with whether the signed-in person may hand it out there and, if not, why: the
  permissions of the role they do not hold themselves (the delegation rule, made visible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

from sqlalchemy import func, or_, select

from nentang.kernel.authz.models import Grant, Permission, Role, RolePermission
from nentang.kernel.authz.permissions import GRANTS_MANAGE
from nentang.kernel.identity.models import User
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, path_ids, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo


@final
@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[tuple[UserInfo, str]]  # the user and the code of its home unit
    next_after: str | None
    total: int


@final
@dataclass(frozen=True, slots=True)
class HeldGrant:
    id: int
    role: str
    unit: TenantInfo


@final
@dataclass(frozen=True, slots=True)
class RoleOffer:
    name: str
    #: The unit that defines it (``None``: a template of the platform).
    defined_at: str | None
    permissions: tuple[str, ...]
    #: The role's permissions the person does not hold at the unit (empty: it may be granted).
    missing: tuple[str, ...]


def users_page(kernel: Kernel, unit: TenantInfo, *, subtree: bool, text: str, after: str, limit: int) -> UserPage:
    if subtree:
        below = select(Tenant.id).where(Tenant.path >= unit.path, Tenant.path < subtree_upper_bound(unit.path))
        where: list[Any] = [User.home_tenant_id.in_(below)]
    else:
        where = [User.home_tenant_id == unit.id]
    if text:
        where.append(
            or_(
                User.username.contains(text.lower(), autoescape=True),
                func.lower(User.display_name).contains(text.lower(), autoescape=True),
            )
        )
    with kernel.db.platform() as session:
        total = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
        query = (
            select(User, Tenant.code)
            .join(Tenant, Tenant.id == User.home_tenant_id)
            .where(*where, User.username > after)
            .order_by(User.username)
            .limit(limit + 1)
        )
        rows = [(UserInfo.of(user), code) for user, code in session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(rows, rows[-1][0].username if more else None, total)


def grants_of(kernel: Kernel, user: UserInfo, acting: TenantInfo) -> list[HeldGrant]:
    with kernel.db.platform() as session:
        query = (
            select(Grant.id, Role.name, Tenant)
            .join(Role, Role.id == Grant.role_id)
            .join(Tenant, Tenant.id == Grant.tenant_id)
            .where(Grant.principal == user.principal)
            .where(Tenant.path >= acting.path, Tenant.path < subtree_upper_bound(acting.path))
            .order_by(Tenant.depth, Tenant.code, Role.name)
        )
        return [HeldGrant(grant_id, role, TenantInfo.of(row)) for grant_id, role, row in session.execute(query)]


def role_offers(
    kernel: Kernel, principal: str, unit: TenantInfo, needs: frozenset[str] = frozenset({GRANTS_MANAGE})
) -> list[RoleOffer]:
    """The roles visible at ``unit``; empty when the person holds none of ``needs`` there (by
    default: may not grant there at all)."""
    with kernel.db.platform() as session:
        held = kernel.authz.permissions_in(session, principal, unit.id)
        if not held & needs:
            return []
        visible = or_(Role.tenant_id.is_(None), Role.tenant_id.in_(path_ids(unit.path)))
        roles = session.execute(
            select(Role.id, Role.name, Tenant.code).outerjoin(Tenant, Tenant.id == Role.tenant_id).where(visible)
        ).all()
        permissions: dict[int, list[str]] = {}
        ids = [role_id for role_id, _name, _code in roles]
        for role_id, permission in session.execute(
            select(RolePermission.role_id, RolePermission.permission).where(RolePermission.role_id.in_(ids))
        ):
            permissions.setdefault(role_id, []).append(permission)
    offers = []
    for role_id, name, code in roles:
        wanted = tuple(sorted(permissions.get(role_id, [])))
        offers.append(RoleOffer(name, code, wanted, tuple(p for p in wanted if p not in held)))
    return sorted(offers, key=lambda o: (bool(o.missing), o.defined_at or "", o.name))


def permission_choices(kernel: Kernel, principal: str, unit: TenantInfo) -> list[tuple[str, str, bool]]:
    """Every declared permission as (name, description, held by the person at ``unit``): a custom
    role may be built only from those held."""
    with kernel.db.platform() as session:
        held = kernel.authz.permissions_in(session, principal, unit.id)
        rows = session.execute(select(Permission.name, Permission.description).order_by(Permission.name)).all()
    return [(name, description, name in held) for name, description in rows]
