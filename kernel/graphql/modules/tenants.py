"""The tenant tree over GraphQL: navigate it, provision units, rename, move, suspend, reactivate.

Everything ``nentang tenant`` does. Authorisation, checked before anything changes:

- reading a tenant (``tenant``, ``tenants(parent:)``, and the navigation fields ``parent``,
  ``ancestors``, ``children``, ``childCount`` of a tenant) needs ``kernel.tenants.read`` at that
  tenant (a grant at an ancestor counts); listing every tenant (``tenants`` without ``parent``)
  needs it at the root;
- ``createTenant`` needs ``kernel.tenants.create`` at the parent;
- ``renameTenant``, ``suspendTenant``, ``reactivateTenant`` need ``kernel.tenants.manage`` at the
  tenant; ``moveTenant`` needs it at the tenant and ``kernel.tenants.create`` at the new parent.

Navigation goes through per-request DataLoaders (``tenant_data.py``): a tree of any size costs
one statement per level.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from nentang.kernel.authz.permissions import TENANTS_CREATE, TENANTS_MANAGE, TENANTS_READ
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.pagination import Connection, connection, decode_cursor, encode_cursor
from nentang.kernel.tenancy.models import TenantKind, TenantStatus
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.graphql import batch_resolver, graphql_metadata

#: The deepest a tree may practically be; bounds ``ancestors`` in the cost count.
MAX_TREE_DEPTH = 32


@strawberry.enum(name="TenantKind", description="The level of a unit of government.")
class TenantKindValue(Enum):
    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"
    UNIT = "unit"


@strawberry.enum(name="TenantStatus", description="Whether a tenant serves requests.")
class TenantStatusValue(Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


#: The service's enums to the schema's (looked up per tenant of a page: no enum call per row).
_KINDS: dict[Any, TenantKindValue] = {TenantKind(v.value): v for v in TenantKindValue}
_STATUSES: dict[Any, TenantStatusValue] = {TenantStatus(v.value): v for v in TenantStatusValue}


@strawberry.type(description="A unit of government: the central level, a province, a commune, or any unit below.")
class Tenant:
    code: str = strawberry.field(
        description="The official code: TW, two digits for a province, five for a commune, or a unit's own code."
    )
    name: str = strawberry.field(description="The official name.")
    kind: TenantKindValue
    division_type: str | None = strawberry.field(
        description="The official division type in Vietnamese (tỉnh, thành phố, phường, xã...) where known."
    )
    status: TenantStatusValue = strawberry.field(
        description="SUSPENDED here; a tenant under a suspended ancestor stays ACTIVE but does not serve."
    )
    depth: int = strawberry.field(description="0 for the central tenant, 1 for a province, and so on down.")
    created_at: datetime
    updated_at: datetime
    info: strawberry.Private[TenantInfo]

    @classmethod
    def of(cls, info: TenantInfo) -> Tenant:
        return cls(
            code=info.code,
            name=info.name,
            kind=_KINDS[info.kind],
            division_type=info.division_type,
            status=_STATUSES[info.status],
            depth=info.depth,
            created_at=info.created_at,
            updated_at=info.updated_at,
            info=info,
        )

    @strawberry.field(description="The tenant directly above (null for the central tenant).")
    @batch_resolver
    async def parent(tenants: list[Tenant], info: strawberry.Info[GraphQLContext, None]) -> list[Tenant | None]:
        # every tenant of a page at once (batching.py): the grants read once, one read for all parents
        ctx = info.context
        answers: list[Tenant | Exception | None] = list(ctx.refusals_at(TENANTS_READ, [t.info for t in tenants]))
        wanted = {t.info.parent_id for t, a in zip(tenants, answers, strict=True) if a is None and t.info.parent_id}
        ids = sorted(wanted)
        found = dict(zip(ids, await ctx.loader(data.TENANT_BY_ID).load_many(ids), strict=True))
        parents = {i: Tenant.of(t) for i, t in found.items() if t is not None}  # one object per parent
        for index, (tenant, answer) in enumerate(zip(tenants, answers, strict=True)):
            if answer is None and tenant.info.parent_id:
                answers[index] = parents.get(tenant.info.parent_id)
        return answers  # type: ignore[return-value]

    @strawberry.field(
        description="From the central tenant down to the parent.", metadata=graphql_metadata(max_items=MAX_TREE_DEPTH)
    )
    async def ancestors(self, info: strawberry.Info[GraphQLContext, None]) -> list[Tenant]:
        ctx = info.context
        ctx.require_at(TENANTS_READ, self.info)
        found = await ctx.loader(data.TENANT_BY_ID).load_many(self.info.ancestor_ids)
        return [Tenant.of(t) for t in found if t is not None]

    @strawberry.field(description="The tenants directly below, by code.")
    async def children(
        self, info: strawberry.Info[GraphQLContext, None], first: int, after: str | None = None
    ) -> Connection[Tenant]:
        ctx = info.context
        ctx.require_at(TENANTS_READ, self.info)
        first = ctx.page_size(first)
        after_code = _code_cursor(after)
        rows = await ctx.loader(data.CHILDREN).load((self.info.id, first + 1, after_code))
        return connection(rows, first, _cursor, Tenant.of)

    @strawberry.field(description="How many tenants sit directly below.")
    @batch_resolver
    async def child_count(tenants: list[Tenant], info: strawberry.Info[GraphQLContext, None]) -> list[int]:
        # a page's counts at once (batching.py): the grants read once, one grouped count for all
        ctx = info.context
        refusals = ctx.refusals_at(TENANTS_READ, [t.info for t in tenants])
        allowed = [t.info.id for t, refusal in zip(tenants, refusals, strict=True) if refusal is None]
        counts = dict(zip(allowed, await ctx.loader(data.CHILD_COUNT).load_many(allowed), strict=True))
        answers: list[int | Exception] = [
            refusal if refusal is not None else counts[t.info.id] for t, refusal in zip(tenants, refusals, strict=True)
        ]
        return answers  # type: ignore[return-value]


@strawberry.type
class TenantQueries:
    @strawberry.field(description="One tenant by its official code.")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None], code: str) -> Tenant | None:
        ctx = info.context
        found = await data.load_by_code(ctx, code)
        ctx.require_at(TENANTS_READ, found)
        return Tenant.of(found)

    @strawberry.field(
        description=(
            "Tenants by code: every tenant (needs the right to read at the root), the children of "
            "`parent`, or with `subtree: true` everything below `parent` (parents first)."
        )
    )
    async def tenants(
        self,
        info: strawberry.Info[GraphQLContext, None],
        first: int,
        after: str | None = None,
        parent: str | None = None,
        kind: TenantKindValue | None = None,
        subtree: bool = False,
    ) -> Connection[Tenant]:
        ctx = info.context
        first = ctx.page_size(first)
        wanted = TenantKind(kind.value) if kind is not None else None
        if parent is None:
            root = await ctx.run_sync(data.root, ctx)
            ctx.require_at(TENANTS_READ, root)
            rows = await ctx.run_sync(data.all_by_code, ctx, wanted, first + 1, _code_cursor(after))
            return connection(rows, first, _cursor, Tenant.of)
        above = await data.load_by_code(ctx, parent)
        ctx.require_at(TENANTS_READ, above)
        if subtree:
            key = decode_cursor(after, int, str)
            rows = await ctx.run_sync(data.subtree_page, ctx, above, wanted, first + 1, key)
            return connection(rows, first, _tree_cursor, Tenant.of)
        rows = await ctx.run_sync(data.children_by_code, ctx, above, wanted, first + 1, _code_cursor(after))
        return connection(rows, first, _cursor, Tenant.of)


@strawberry.input(description="A new unit of government.")
class CreateTenantInput:
    code: str
    name: str
    #: The tenant it sits under (provisioning the central tenant is an operator's act, on the CLI).
    parent: str
    kind: TenantKindValue = TenantKindValue.UNIT
    division_type: str | None = None


@strawberry.type
class TenantMutations:
    @strawberry.mutation(description="Provision a tenant under `parent`; it serves at once.")
    async def create_tenant(
        self, info: strawberry.Info[GraphQLContext, None], input: CreateTenantInput
    ) -> Tenant | None:
        ctx = info.context

        def create() -> TenantInfo:
            parent = ctx.kernel.tenants.get(input.parent)
            ctx.require_at(TENANTS_CREATE, parent)
            return ctx.kernel.tenants.create(
                code=input.code,
                name=input.name,
                kind=input.kind.value,
                parent_code=parent.code,
                actor=ctx.caller.actor,
                division_type=input.division_type,
            )

        return Tenant.of(await ctx.run_sync(create))

    @strawberry.mutation(description="Change a tenant's name (its code never changes).")
    async def rename_tenant(self, info: strawberry.Info[GraphQLContext, None], code: str, name: str) -> Tenant | None:
        ctx = info.context

        def rename() -> TenantInfo:
            ctx.require_at(TENANTS_MANAGE, ctx.kernel.tenants.get(code))
            return ctx.kernel.tenants.rename(code, name, actor=ctx.caller.actor)

        return await _changed(ctx, code, rename)

    @strawberry.mutation(description="Move a tenant, with everything below it, under another parent.")
    async def move_tenant(self, info: strawberry.Info[GraphQLContext, None], code: str, parent: str) -> Tenant | None:
        ctx = info.context

        def move() -> TenantInfo:
            ctx.require_at(TENANTS_MANAGE, ctx.kernel.tenants.get(code))
            ctx.require_at(TENANTS_CREATE, ctx.kernel.tenants.get(parent))
            return ctx.kernel.tenants.move(code, parent, actor=ctx.caller.actor)

        return await _changed(ctx, code, move)

    @strawberry.mutation(description="Suspend a tenant: it and everything below it stop serving requests.")
    async def suspend_tenant(
        self, info: strawberry.Info[GraphQLContext, None], code: str, reason: str = ""
    ) -> Tenant | None:
        ctx = info.context

        def suspend() -> TenantInfo:
            ctx.require_at(TENANTS_MANAGE, ctx.kernel.tenants.get(code))
            return ctx.kernel.tenants.suspend(code, actor=ctx.caller.actor, reason=reason)

        return await _changed(ctx, code, suspend)

    @strawberry.mutation(description="Let a suspended tenant serve again.")
    async def reactivate_tenant(self, info: strawberry.Info[GraphQLContext, None], code: str) -> Tenant | None:
        ctx = info.context

        def reactivate() -> TenantInfo:
            ctx.require_at(TENANTS_MANAGE, ctx.kernel.tenants.get(code))
            return ctx.kernel.tenants.reactivate(code, actor=ctx.caller.actor)

        return await _changed(ctx, code, reactivate)


async def _changed(ctx: GraphQLContext, code: str, change: Callable[[], TenantInfo]) -> Tenant:
    info = await ctx.run_sync(change)
    ctx.tenant_changed(code)
    return Tenant.of(info)


def _cursor(tenant: TenantInfo) -> str:
    return encode_cursor(tenant.code)


def _tree_cursor(tenant: TenantInfo) -> str:
    return encode_cursor(tenant.depth, tenant.code)


def _code_cursor(after: str | None) -> str:
    key = decode_cursor(after, str)
    return key[0] if key else ""


MODULE = KernelModule("tenants", queries=(TenantQueries,), mutations=(TenantMutations,))
