"""Reads of permissions, roles, grants and the users they name, for the GraphQL layer.

Like ``tenant_data.py``: each function runs in a worker thread and issues one Core statement
through ``ctx.reader`` (these are the kernel's platform tables, not tenant-owned ones). The
DataLoaders answer every key asked for in one tick of the event loop with one statement, so a page
of a hundred grants with their users, roles and tenants costs one statement per kind, not per grant.

These are plain reads for display. The writes, and the delegation rules that guard them, stay in
``kernel/authz`` and run inside the write's own transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from nentang.kernel.authz.models import Grant, Permission, Role, RolePermission
from nentang.kernel.graphql.context import GraphQLContext, LoaderSpec
from nentang.kernel.identity.models import User
from nentang.kernel.tenancy.models import Tenant, path_ids, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo

# SQLModel's tables, for Core reads.
PERMISSION = Permission.__table__  # type: ignore[attr-defined]
ROLE = Role.__table__  # type: ignore[attr-defined]
ROLE_PERMISSION = RolePermission.__table__  # type: ignore[attr-defined]
GRANT = Grant.__table__  # type: ignore[attr-defined]
USER = User.__table__  # type: ignore[attr-defined]
TENANT = Tenant.__table__  # type: ignore[attr-defined]
#: A row of one of those tables; the GraphQL types read it with their ``of``.
Record = Row[Any]


def _rows(ctx: GraphQLContext, query: Any) -> list[Record]:
    with ctx.reader.connect() as connection:
        return list(connection.execute(query))


# -- DataLoaders ----------------------------------------------------------------------------------


def _roles_by_id(ctx: GraphQLContext, ids: list[int]) -> Sequence[Record | None]:
    found = {row.id: row for row in _rows(ctx, select(ROLE).where(ROLE.c.id.in_(set(ids))))}
    return [found.get(i) for i in ids]


def _role_permissions(ctx: GraphQLContext, ids: list[int]) -> Sequence[list[Record]]:
    query = (
        select(ROLE_PERMISSION.c.role_id, PERMISSION)
        .join(PERMISSION, PERMISSION.c.name == ROLE_PERMISSION.c.permission)
        .where(ROLE_PERMISSION.c.role_id.in_(set(ids)))
        .order_by(ROLE_PERMISSION.c.role_id, PERMISSION.c.name)
    )
    found: dict[int, list[Record]] = defaultdict(list)
    for row in _rows(ctx, query):
        found[row.role_id].append(row)
    return [found.get(i, []) for i in ids]


def _users_by_id(ctx: GraphQLContext, ids: list[int]) -> Sequence[Record | None]:
    query = select(USER.c.id, USER.c.username, USER.c.display_name).where(USER.c.id.in_(set(ids)))
    found = {row.id: row for row in _rows(ctx, query)}
    return [found.get(i) for i in ids]


ROLE_BY_ID: LoaderSpec[int, Record | None] = LoaderSpec("role_by_id", _roles_by_id)
ROLE_PERMISSIONS: LoaderSpec[int, list[Record]] = LoaderSpec("role_permissions", _role_permissions)
USER_BY_ID: LoaderSpec[int, Record | None] = LoaderSpec("user_by_id", _users_by_id)


# -- pages ------------------------------------------------------------------------------------------


def permissions_page(ctx: GraphQLContext, limit: int, after: str) -> list[Record]:
    return _rows(ctx, select(PERMISSION).where(PERMISSION.c.name > after).order_by(PERMISSION.c.name).limit(limit))


def roles_page(ctx: GraphQLContext, tenant: TenantInfo, limit: int, after: tuple[str, int] | None) -> list[Record]:
    """The roles usable at ``tenant``: every template, and the custom roles defined at it or above
    (the same visibility as the grant rule in ``authz/administration.py``), by (name, id)."""
    c = ROLE.c
    query = select(ROLE).where(c.tenant_id.is_(None) | c.tenant_id.in_(path_ids(tenant.path)))
    if after is not None:
        name, role_id = after
        query = query.where((c.name > name) | ((c.name == name) & (c.id > role_id)))
    return _rows(ctx, query.order_by(c.name, c.id).limit(limit))


def grants_page(
    ctx: GraphQLContext, tenant: TenantInfo, subtree: bool, principal: str | None, limit: int, after: int
) -> list[Record]:
    """Grants made at ``tenant`` (with ``subtree``, at it and every tenant below), oldest first.

    Never the grants of its ancestors, although they apply here: those belong to the
    administrators above, whose assignments a subtree's administrator has no business reading.
    """
    query = select(GRANT).where(GRANT.c.id > after)
    if subtree:
        below = select(TENANT.c.id).where(
            TENANT.c.path >= tenant.path, TENANT.c.path < subtree_upper_bound(tenant.path)
        )
        query = query.where(GRANT.c.tenant_id.in_(below.scalar_subquery()))
    else:
        query = query.where(GRANT.c.tenant_id == tenant.id)
    if principal is not None:
        query = query.where(GRANT.c.principal == principal)
    return _rows(ctx, query.order_by(GRANT.c.id).limit(limit))
