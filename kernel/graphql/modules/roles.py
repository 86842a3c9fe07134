"""Permissions and roles over GraphQL: the catalogue, the roles usable at a tenant, custom roles.

Authorisation:

- ``permissions`` (the catalogue of declared permissions) needs only a signed-in caller or a
  token: names and descriptions of what *can* be granted are the same for every tenant and are no
  secret, and whoever edits a role or reads ``me.permissions`` needs them to make sense of it;
- ``roles(tenant:)`` needs ``kernel.roles.manage`` or ``kernel.grants.manage`` at that tenant (a
  grant above counts): whoever defines roles there, or hands them out, must see which exist. A
  viewer or an auditor does not;
- ``createRole``, ``updateRolePermissions`` and ``deleteRole`` go through the authoriser's
  delegation-checked writes (``kernel/authz/administration.py``), checked inside the write's own
  transaction, not against a cache: ``kernel.roles.manage`` at the role's tenant, and only permissions the caller
  holds there. A refusal is audited at that tenant and comes back as ``permission.denied`` or
  ``authz.escalation``; bad input as ``authz.unknown_permission``, ``authz.role_exists``,
  ``authz.role_not_found``, ``authz.template_read_only``, ``authz.role_in_use`` (a role still granted
  cannot be deleted) or ``validation.failed``. A role of a tenant the caller may not manage is
  ``permission.denied`` whether or not it exists.

The authoriser's caches follow the write when it commits (``Database.on_commit``), so the caller's
next request already sees a changed role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.authz.models import Role as RoleRow
from nentang.kernel.authz.permissions import GRANTS_MANAGE, ROLES_MANAGE
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import role_data as data
from nentang.kernel.graphql.modules import tenant_data
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.pagination import Connection, connection, decode_cursor, encode_cursor
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.identity.users import tenant_by_code
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NotFound, PermissionDenied, ValidationFailed
from nentang.sdk.graphql import graphql_metadata

R = TypeVar("R")
#: The most permissions a role may list: the bound of ``Role.permissions`` in the cost count (a page
#: of 100 roles with their permissions' names stays near 10,000), and so the most ``createRole`` and
#: ``updateRolePermissions`` accept. Templates are declared by the kernel and reviewed plugins.
MAX_ROLE_PERMISSIONS = 100


@strawberry.type(description="Something a role allows, declared by the kernel or by a plugin.")
class Permission:
    name: str = strawberry.field(description='Shaped area.object.verb or plugin.verb, e.g. "kernel.tenants.create".')
    description: str
    declared_by: str = strawberry.field(description="kernel, or the name of the plugin that declares it.")

    @classmethod
    def of(cls, row: Any) -> Permission:
        """From a ``kernel_permission`` row."""
        return cls(name=row.name, description=row.description, declared_by=row.declared_by)


@strawberry.enum(name="RoleKind", description="Where a role comes from.")
class RoleKindValue(Enum):
    TEMPLATE = "template"
    CUSTOM = "custom"


@strawberry.type(description="A named set of permissions, granted to principals at tenants.")
class Role:
    id: int
    name: str
    description: str
    kind: RoleKindValue = strawberry.field(
        description="TEMPLATE: declared by the kernel or a plugin, usable everywhere, read-only. "
        "CUSTOM: defined by an administrator at a tenant, usable there and below."
    )
    declared_by: str = strawberry.field(
        description='For a template: kernel, or the declaring plugin\'s name; else "custom".'
    )
    created_by: str = strawberry.field(description="The actor that defined it (user:<id>, token:<id>, cli:<name>...).")
    created_at: datetime
    updated_at: datetime
    tenant_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, row: Any) -> Role:
        """From a ``kernel_role`` row: a Core row of a read, or the ORM row a write returns."""
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            kind=RoleKindValue.TEMPLATE if row.tenant_id is None else RoleKindValue.CUSTOM,
            declared_by=row.declared_by,
            created_by=row.created_by,
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            tenant_id=row.tenant_id,
        )

    @strawberry.field(description="The tenant that defined a custom role (null for a template).")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant | None:
        if self.tenant_id is None:
            return None
        found = await info.context.loader(tenant_data.TENANT_BY_ID).load(self.tenant_id)
        return Tenant.of(found) if found else None

    @strawberry.field(
        description="What the role allows, by name.", metadata=graphql_metadata(max_items=MAX_ROLE_PERMISSIONS)
    )
    async def permissions(self, info: strawberry.Info[GraphQLContext, None]) -> list[Permission]:
        found = await info.context.loader(data.ROLE_PERMISSIONS).load(self.id)
        return [Permission.of(p) for p in found]


# -- helpers shared with grants.py ------------------------------------------------------------------


async def in_transaction(ctx: GraphQLContext, work: Callable[[Session], R]) -> R:
    """Run ``work`` in one platform transaction in a worker thread, as the authoriser's writes expect:
    their checks read the database inside it, and a refusal is audited once it has rolled back."""
    ctx.signed_in()  # anonymous callers are refused at validation already: defence in depth

    def run() -> R:
        with ctx.kernel.db.platform() as session, session.begin():
            return work(session)

    return await ctx.run_sync(run)


def require_role_reader(ctx: GraphQLContext, place: TenantInfo) -> None:
    """``kernel.grants.manage`` or ``kernel.roles.manage`` at ``place``."""
    try:
        ctx.require_at(GRANTS_MANAGE, place)
    except PermissionDenied:
        ctx.require_at(ROLES_MANAGE, place)


# -- fields -----------------------------------------------------------------------------------------


@strawberry.type
class RoleQueries:
    @strawberry.field(description="Every declared permission (of the kernel and the installed plugins), by name.")
    async def permissions(
        self, info: strawberry.Info[GraphQLContext, None], first: int, after: str | None = None
    ) -> Connection[Permission]:
        ctx = info.context
        ctx.signed_in()
        first = ctx.page_size(first)
        key = decode_cursor(after, str)
        rows = await ctx.run_sync(data.permissions_page, ctx, first + 1, key[0] if key else "")
        return connection(rows, first, lambda p: encode_cursor(p.name), Permission.of)

    @strawberry.field(
        description="The roles usable at `tenant`: every template, and the custom roles defined at it or "
        "above, by name."
    )
    async def roles(
        self, info: strawberry.Info[GraphQLContext, None], tenant: str, first: int, after: str | None = None
    ) -> Connection[Role]:
        ctx = info.context
        place = await tenant_data.load_by_code(ctx, tenant)
        require_role_reader(ctx, place)
        first = ctx.page_size(first)
        key = decode_cursor(after, str, int)
        rows = await ctx.run_sync(data.roles_page, ctx, place, first + 1, key)
        return connection(rows, first, lambda r: encode_cursor(r.name, r.id), Role.of)


@strawberry.input(description="A custom role, defined at a tenant and usable there and below.")
class CreateRoleInput:
    tenant: str
    name: str = strawberry.field(description="2-64 characters: lower-case letters, digits, '_', '.', '-'.")
    permissions: list[str] = strawberry.field(description="At least one; only permissions you hold at `tenant`.")
    description: str = ""


@strawberry.input(description="The new permissions of a custom role, replacing the old ones.")
class UpdateRolePermissionsInput:
    tenant: str = strawberry.field(description="The tenant that defined the role.")
    name: str
    permissions: list[str] = strawberry.field(description="At least one; only permissions you hold at `tenant`.")


@strawberry.input(description="A custom role to delete; it must no longer be granted anywhere.")
class DeleteRoleInput:
    tenant: str = strawberry.field(description="The tenant that defined the role.")
    name: str


@strawberry.type(description="A role as it was before it was deleted.")
class DeletedRole:
    id: int
    name: str
    tenant: Tenant = strawberry.field(description="The tenant that had defined it.")


@strawberry.type
class RoleMutations:
    @strawberry.mutation(description="Define a custom role at a tenant.")
    async def create_role(self, info: strawberry.Info[GraphQLContext, None], input: CreateRoleInput) -> Role | None:
        ctx = info.context

        _check_size(input.permissions)

        def create(session: Session) -> Role:
            row = ctx.kernel.authz.create_role(
                session,
                actor=ctx.caller.actor,
                tenant_id=tenant_by_code(session, input.tenant).id or 0,
                name=input.name,
                permissions=input.permissions,
                description=input.description,
            )
            return Role.of(row)

        return await in_transaction(ctx, create)

    @strawberry.mutation(description="Replace the permissions of a custom role; every grant of it follows at once.")
    async def update_role_permissions(
        self, info: strawberry.Info[GraphQLContext, None], input: UpdateRolePermissionsInput
    ) -> Role | None:
        ctx = info.context

        _check_size(input.permissions)

        def update(session: Session) -> Role:
            _, role_id = _named_role(ctx, session, input.tenant, input.name)
            row = ctx.kernel.authz.update_role(
                session, actor=ctx.caller.actor, role_id=role_id, permissions=input.permissions
            )
            return Role.of(row)

        return await in_transaction(ctx, update)

    @strawberry.mutation(description="Delete a custom role that no grant uses; returns what it was.")
    async def delete_role(
        self, info: strawberry.Info[GraphQLContext, None], input: DeleteRoleInput
    ) -> DeletedRole | None:
        ctx = info.context

        def delete(session: Session) -> DeletedRole:
            place, role_id = _named_role(ctx, session, input.tenant, input.name)
            ctx.kernel.authz.delete_role(session, actor=ctx.caller.actor, role_id=role_id)
            return DeletedRole(id=role_id, name=input.name, tenant=Tenant.of(place))

        return await in_transaction(ctx, delete)


def _check_size(permissions: list[str]) -> None:
    if len(set(permissions)) > MAX_ROLE_PERMISSIONS:
        raise ValidationFailed(
            f"a role holds at most {MAX_ROLE_PERMISSIONS} permissions, not {len(set(permissions))}; split it in two"
        )


def _named_role(ctx: GraphQLContext, session: Session, tenant: str, name: str) -> tuple[TenantInfo, int]:
    """The tenant and the id of the role ``name`` defined there (or of the template of that name).

    An unknown name is ``authz.role_not_found`` only to a caller who may manage roles at the tenant;
    anyone else gets ``permission.denied``, as for a role that exists there, so a province cannot
    learn which roles another province defines.
    """
    place = TenantInfo.of(tenant_by_code(session, tenant))
    role_id = _role_id(session, place.id, name)
    if role_id is None:
        ctx.require_at(ROLES_MANAGE, place)
        raise NotFound(f"tenant {place.code!r} defines no role {name!r}", code="authz.role_not_found")
    return place, role_id


def _role_id(session: Session, tenant_id: int, name: str) -> int | None:
    """The custom role ``name`` defined at the tenant, else the template of that name (which the
    authoriser refuses to change, with ``authz.template_read_only``), else ``None``."""
    found = session.scalar(select(RoleRow.id).where(RoleRow.tenant_id == tenant_id, RoleRow.name == name))
    if found is None:
        found = session.scalar(select(RoleRow.id).where(RoleRow.tenant_id.is_(None), RoleRow.name == name))
    return found


MODULE = KernelModule("roles", queries=(RoleQueries,), mutations=(RoleMutations,))
