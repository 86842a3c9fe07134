"""``me``: who is calling, how they proved it, for which tenant, and what they may do there.

The one kernel field an anonymous caller may query (it then says ``authenticated: false``).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.sdk.graphql import graphql_metadata

#: Bounds ``permissions`` in the cost count (every declared permission of the kernel and plugins).
MAX_PERMISSIONS = 1_000


@strawberry.enum(name="AuthMethod", description="How a caller proved who it is.")
class AuthMethodValue(Enum):
    ANONYMOUS = "anonymous"
    SESSION = "session"
    TOKEN = "token"


@strawberry.type(description="The signed-in user behind a web session.")
class CallerUser:
    id: int
    username: str
    display_name: str


@strawberry.type(description="The API token an integrator called with.")
class CallerToken:
    id: int
    name: str
    prefix: str = strawberry.field(description="nt_<8 hex>: the start of the token, to tell tokens apart.")
    expires_at: datetime


@strawberry.type(description="Who is calling, and for which tenant.")
class Me:
    principal: str = strawberry.field(description="user:<id>, token:<id> or anonymous.")
    authenticated: bool
    method: AuthMethodValue
    user: CallerUser | None
    token: CallerToken | None

    @strawberry.field(description="The tenant of this request (the token's, or the one named by X-Tenant).")
    def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant:
        return Tenant.of(info.context.tenant)

    @strawberry.field(
        description="The permissions the caller holds at the tenant of this request, sorted.",
        metadata=graphql_metadata(max_items=MAX_PERMISSIONS),
    )
    async def permissions(self, info: strawberry.Info[GraphQLContext, None]) -> list[str]:
        ctx = info.context
        if not ctx.caller.authenticated:
            return []

        def read() -> list[str]:
            with ctx.kernel.db.platform() as session:
                return sorted(ctx.kernel.authz.permissions_in(session, ctx.caller.principal, ctx.tenant.id))

        return await ctx.run_sync(read)


@strawberry.type
class MeQueries:
    @strawberry.field(description="Who is calling.", metadata=graphql_metadata(public=True))
    def me(self, info: strawberry.Info[GraphQLContext, None]) -> Me:
        caller = info.context.caller
        user, token = caller.user, caller.token
        return Me(
            principal=caller.principal,
            authenticated=caller.authenticated,
            method=AuthMethodValue(caller.method),
            user=CallerUser(id=user.id, username=user.username, display_name=user.display_name) if user else None,
            token=CallerToken(id=token.id, name=token.name, prefix=token.prefix, expires_at=token.expires_at)
            if token
            else None,
        )


MODULE = KernelModule("me", queries=(MeQueries,))
