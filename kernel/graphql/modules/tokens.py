"""Integrators' API tokens over GraphQL: list a tenant's, create one (its secret shown once), revoke one.

Everything ``nentang token`` does. Authorisation: every field needs ``kernel.tokens.manage`` at the
token's tenant (a grant at an ancestor counts), checked before anything is validated or changed;
``createApiToken`` can give only roles whose every permission the caller holds there (the
authoriser's delegation rule, checked by the token service inside the transaction that writes the
token, so a refused token leaves nothing behind).

The secret exists once, in the ``createApiToken`` payload: only its hash is stored, and no field of
``ApiToken`` can return it.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from nentang.kernel.authz.permissions import TOKENS_MANAGE
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.pagination import Connection, connection, decode_cursor, encode_cursor
from nentang.kernel.identity.tokens import MAX_LIFETIME_DAYS, MAX_ROLES, CreatedToken, TokenInfo
from nentang.sdk.graphql import graphql_metadata


@strawberry.type(description="An integrator's API token (never its secret).")
class ApiToken:
    id: int
    name: str = strawberry.field(description="Who uses it and for what; unique in its tenant.")
    prefix: str = strawberry.field(description="nt_<8 hex>: the start of the token, to tell tokens apart.")
    roles: list[str] = strawberry.field(
        description="The roles it holds at its tenant (none once revoked).",
        metadata=graphql_metadata(max_items=MAX_ROLES),
    )
    created_by: str = strawberry.field(
        description="The principal that created it: user:<id>, token:<id> or an operator."
    )
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Recorded at most once per few minutes.")
    revoked_at: datetime | None
    revoked_by: str | None
    info: strawberry.Private[TokenInfo]

    @classmethod
    def of(cls, info: TokenInfo) -> ApiToken:
        return cls(
            id=info.id,
            name=info.name,
            prefix=info.prefix,
            roles=list(info.roles or ()),
            created_by=info.created_by,
            created_at=info.created_at,
            expires_at=info.expires_at,
            last_used_at=info.last_used_at,
            revoked_at=info.revoked_at,
            revoked_by=info.revoked_by,
            info=info,
        )

    @strawberry.field(description="The tenant the token acts for.")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant:
        found = await info.context.loader(data.TENANT_BY_ID).load(self.info.tenant_id)
        if found is None:  # the foreign key forbids it
            raise RuntimeError(f"API token {self.info.id} has no tenant {self.info.tenant_id}")
        return Tenant.of(found)


@strawberry.type
class ApiTokenQueries:
    @strawberry.field(description="The API tokens of `tenant` (default: the tenant of this request), oldest first.")
    async def api_tokens(
        self,
        info: strawberry.Info[GraphQLContext, None],
        first: int,
        after: str | None = None,
        tenant: str | None = None,
    ) -> Connection[ApiToken]:
        ctx = info.context
        owner = await data.tenant_where_allowed(ctx, tenant, TOKENS_MANAGE)
        first = ctx.page_size(first)
        key = decode_cursor(after, int)
        rows = await ctx.run_sync(
            ctx.kernel.tokens.list, ctx.caller.actor, owner.code, limit=first + 1, after=key[0] if key else 0
        )
        return connection(rows, first, _cursor, ApiToken.of)


@strawberry.input(description="A new API token.")
class CreateApiTokenInput:
    tenant: str = strawberry.field(description="The official code of the tenant the token acts for.")
    name: str = strawberry.field(description="Who uses it and for what (unique in the tenant).")
    roles: list[str] = strawberry.field(description="Roles to give it at the tenant; only ones within your own rights.")
    days: int = strawberry.field(description=f"Lifetime in days, 1-{MAX_LIFETIME_DAYS}: every token expires.")


@strawberry.type(description="A token just created, with its secret.")
class CreateApiTokenPayload:
    token: ApiToken
    secret: str = strawberry.field(
        description="The whole token, shown this once and stored only as a hash: send it as "
        "`Authorization: Bearer <secret>`."
    )


@strawberry.type
class ApiTokenMutations:
    @strawberry.mutation(description="Create an API token for an integrator.")
    async def create_api_token(
        self, info: strawberry.Info[GraphQLContext, None], input: CreateApiTokenInput
    ) -> CreateApiTokenPayload | None:
        ctx = info.context
        owner = await data.tenant_where_allowed(ctx, input.tenant, TOKENS_MANAGE)

        def create() -> CreatedToken:
            return ctx.kernel.tokens.create(
                ctx.caller.actor, tenant_code=owner.code, name=input.name, roles=input.roles, expires_in_days=input.days
            )

        created = await ctx.run_sync(create)
        return CreateApiTokenPayload(token=ApiToken.of(created.token), secret=created.plaintext)

    @strawberry.mutation(description="Revoke an API token at once and remove its roles.")
    async def revoke_api_token(self, info: strawberry.Info[GraphQLContext, None], id: int) -> ApiToken | None:
        ctx = info.context
        actor = ctx.signed_in()
        # The service reads the token, checks kernel.tokens.manage at its tenant, then revokes.
        return ApiToken.of(await ctx.run_sync(ctx.kernel.tokens.revoke, actor, id))


def _cursor(token: TokenInfo) -> str:
    return encode_cursor(token.id)


MODULE = KernelModule("tokens", queries=(ApiTokenQueries,), mutations=(ApiTokenMutations,))
