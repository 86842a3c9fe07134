"""Grants over GraphQL: who holds which role where, and delegated administration of them.

Authorisation:

- ``grants(tenant:)`` needs ``kernel.grants.manage`` at that tenant (a grant above counts). Who
  may do what is security-relevant, so only those who administer the assignments read them; it
  lists the grants made at the tenant (``subtree: true``: at it and below), never those of the
  tenants above, which belong to the administrators there;
- ``grantRole`` and ``revokeGrant`` go through the authoriser's delegation-checked writes
  (``kernel/authz/administration.py``), checked inside the write's own transaction:
  ``kernel.grants.manage`` at the tenant, a role visible there, and only a role whose every
  permission the caller holds there; the last user administering the central tenant keeps its
  grant. A refusal is audited at that tenant (``permission.denied``, ``authz.escalation``,
  ``authz.last_admin``); bad input is ``authz.unknown_role``, ``authz.unknown_principal``,
  ``authz.grant_exists``, ``authz.grant_not_found``, ``user.not_found`` or ``validation.failed``.

The authoriser's caches follow the write when it commits, so the principal's next request already
has (or no longer has) the role. A page of grants with their users, roles and tenants costs one
statement per kind, whatever its size (DataLoaders in ``role_data.py`` and ``tenant_data.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.authz.administration import grant_not_found
from nentang.kernel.authz.models import Grant as GrantRow
from nentang.kernel.authz.permissions import GRANTS_MANAGE
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import role_data as data
from nentang.kernel.graphql.modules import tenant_data
from nentang.kernel.graphql.modules.roles import Role, in_transaction
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.modules.users import sees_user
from nentang.kernel.graphql.pagination import Connection, connection, decode_cursor, encode_cursor
from nentang.kernel.identity.models import User
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.identity.users import tenant_by_code, unknown_user
from nentang.sdk.errors import ValidationFailed


@strawberry.type(description="The user a grant names: enough to tell who it is.")
class UserRef:
    id: int
    username: str
    display_name: str


@strawberry.type(description="A role held by a principal at a tenant, and so at every tenant below it.")
class Grant:
    id: int
    principal: str = strawberry.field(description="user:<id> or token:<id>.")
    granted_at: datetime
    granted_by: str = strawberry.field(description="The actor that granted it (user:<id>, token:<id>, cli:<name>...).")
    role_id: strawberry.Private[int]
    tenant_id: strawberry.Private[int]

    @classmethod
    def of(cls, row: Any) -> Grant:
        """From a ``kernel_grant`` row: a Core row of a read, or the ORM row a write returns."""
        return cls(
            id=row.id,
            principal=row.principal,
            granted_at=aware(row.granted_at),
            granted_by=row.granted_by,
            role_id=row.role_id,
            tenant_id=row.tenant_id,
        )

    @strawberry.field(description="The user, for a user:<id> principal (null for an API token).")
    async def user(self, info: strawberry.Info[GraphQLContext, None]) -> UserRef | None:
        kind, _, user_id = self.principal.partition(":")
        if kind != "user":
            return None
        found = await info.context.loader(data.USER_BY_ID).load(int(user_id))
        return UserRef(id=found.id, username=found.username, display_name=found.display_name) if found else None

    @strawberry.field(description="The role granted.")
    async def role(self, info: strawberry.Info[GraphQLContext, None]) -> Role | None:
        found = await info.context.loader(data.ROLE_BY_ID).load(self.role_id)
        return Role.of(found) if found else None

    @strawberry.field(description="Where it was granted; it applies there and below.")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant | None:
        found = await info.context.loader(tenant_data.TENANT_BY_ID).load(self.tenant_id)
        return Tenant.of(found) if found else None


@strawberry.type
class GrantQueries:
    @strawberry.field(
        description="The grants made at `tenant` (with `subtree: true`, at it and every tenant below), "
        "oldest first; `principal` keeps those of one principal (user:<id> or token:<id>)."
    )
    async def grants(
        self,
        info: strawberry.Info[GraphQLContext, None],
        tenant: str,
        first: int,
        after: str | None = None,
        subtree: bool = False,
        principal: str | None = None,
    ) -> Connection[Grant]:
        ctx = info.context
        place = await tenant_data.load_by_code(ctx, tenant)
        ctx.require_at(GRANTS_MANAGE, place)
        first = ctx.page_size(first)
        key = decode_cursor(after, int)
        rows = await ctx.run_sync(data.grants_page, ctx, place, subtree, principal, first + 1, key[0] if key else 0)
        return connection(rows, first, lambda g: encode_cursor(g.id), Grant.of)


@strawberry.input(description="A role to grant at a tenant: to a principal, or to a user by username (one of them).")
class GrantRoleInput:
    role: str = strawberry.field(description="A template, or a custom role defined at `tenant` or above.")
    tenant: str
    principal: str | None = strawberry.field(default=None, description="user:<id> or token:<id>.")
    username: str | None = None


@strawberry.type
class GrantMutations:
    @strawberry.mutation(description="Grant a role at a tenant (it applies there and below).")
    async def grant_role(self, info: strawberry.Info[GraphQLContext, None], input: GrantRoleInput) -> Grant | None:
        ctx = info.context
        if (input.principal is None) == (input.username is None):
            raise ValidationFailed("name who receives the role: either 'principal' or 'username', not both")

        def grant(session: Session) -> Grant:
            place = tenant_by_code(session, input.tenant)
            principal = input.principal or _principal_of(ctx, session, input.username or "", place.id or 0)
            row = ctx.kernel.authz.grant(
                session, actor=ctx.caller.actor, principal=principal, role=input.role, tenant_id=place.id or 0
            )
            return Grant.of(row)

        return await in_transaction(ctx, grant)

    @strawberry.mutation(description="Revoke a grant; returns it as it was.")
    async def revoke_grant(self, info: strawberry.Info[GraphQLContext, None], id: int) -> Grant | None:
        ctx = info.context

        def revoke(session: Session) -> Grant:
            row = session.get(GrantRow, id)
            if row is None:
                raise grant_not_found(id)
            revoked = Grant.of(row)
            ctx.kernel.authz.revoke(session, actor=ctx.caller.actor, grant_id=id)
            return revoked

        return await in_transaction(ctx, revoke)


def _principal_of(ctx: GraphQLContext, session: Session, username: str, tenant_id: int) -> str:
    """The principal of ``username`` for a grant at ``tenant_id``, without an existence oracle.

    A user the caller may not see (no ``kernel.users.read`` or ``.manage`` at the user's home) is
    answered exactly like a name nobody holds — once the caller is known to administer grants
    there; a caller who does not is refused (and audited) whoever the user is, in the authoriser's
    own words.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and sees_user(ctx, user.home_tenant_id):
        return f"user:{user.id}"
    ctx.require(GRANTS_MANAGE, tenant_id)  # permission first
    raise unknown_user(username)


MODULE = KernelModule("grants", queries=(GrantQueries,), mutations=(GrantMutations,))
