"""Reads of the tenant tree for the GraphQL layer: batched (DataLoaders) and paged (connections).

Every function runs in a worker thread and reads the tenant table (the kernel's own, not
tenant-owned) with one Core statement through ``ctx.reader`` — a tenth of the CPU of an ORM session
for a one-row read. The batch functions answer every key requested in one tick of the event loop
with one statement, so a tree query costs one statement per level, however many nodes it has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from nentang.kernel.graphql.context import GraphQLContext, LoaderSpec
from nentang.kernel.tenancy.models import Tenant, TenantKind, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantNotFound

#: (parent id, rows wanted, code after which the page starts).
ChildrenKey = tuple[int, int, str]
TENANT = Tenant.__table__  # type: ignore[attr-defined]  # SQLModel's table, for Core reads


def _read(ctx: GraphQLContext, query: Any) -> list[TenantInfo]:
    with ctx.reader.connect() as connection:
        return [TenantInfo.of(row) for row in connection.execute(query)]  # a row has the model's attributes


def _by_id(ctx: GraphQLContext, ids: list[int]) -> Sequence[TenantInfo | None]:
    found = {t.id: t for t in _read(ctx, select(TENANT).where(TENANT.c.id.in_(set(ids))))}
    return [found.get(i) for i in ids]


def _by_code(ctx: GraphQLContext, codes: list[str]) -> Sequence[TenantInfo | None]:
    found = {t.code: t for t in _read(ctx, select(TENANT).where(TENANT.c.code.in_(set(codes))))}
    return [found.get(c) for c in codes]


def _children(ctx: GraphQLContext, keys: list[ChildrenKey]) -> Sequence[list[TenantInfo]]:
    """Each parent's children after a code, at most ``limit``: one statement per (limit, after) pair
    (usually one: siblings in a tree query ask for the same page size)."""
    groups: dict[tuple[int, str], set[int]] = defaultdict(set)
    for parent_id, limit, after in keys:
        groups[(limit, after)].add(parent_id)
    found: dict[ChildrenKey, list[TenantInfo]] = defaultdict(list)
    for (limit, after), parents in groups.items():
        rank = func.row_number().over(partition_by=TENANT.c.parent_id, order_by=TENANT.c.code).label("rank")
        ranked = select(TENANT, rank).where(TENANT.c.parent_id.in_(parents), TENANT.c.code > after).subquery()
        columns = [ranked.c[column.name] for column in TENANT.c]
        query = select(*columns).where(ranked.c.rank <= limit).order_by(ranked.c.parent_id, ranked.c.code)
        for tenant in _read(ctx, query):
            found[(tenant.parent_id or 0, limit, after)].append(tenant)
    return [found.get(key, []) for key in keys]


def _child_counts(ctx: GraphQLContext, ids: list[int]) -> Sequence[int]:
    query = (
        select(TENANT.c.parent_id, func.count()).where(TENANT.c.parent_id.in_(set(ids))).group_by(TENANT.c.parent_id)
    )
    with ctx.reader.connect() as connection:
        counts = {parent: count for parent, count in connection.execute(query)}
    return [counts.get(i, 0) for i in ids]


TENANT_BY_ID: LoaderSpec[int, TenantInfo | None] = LoaderSpec("tenant_by_id", _by_id)
TENANT_BY_CODE: LoaderSpec[str, TenantInfo | None] = LoaderSpec("tenant_by_code", _by_code)
CHILDREN: LoaderSpec[ChildrenKey, list[TenantInfo]] = LoaderSpec("tenant_children", _children)
CHILD_COUNT: LoaderSpec[int, int] = LoaderSpec("tenant_child_count", _child_counts)


async def load_by_code(ctx: GraphQLContext, code: str) -> TenantInfo:
    """The tenant a field names by code, through the request's loader, or ``tenant.not_found``."""
    found = await ctx.loader(TENANT_BY_CODE).load(code)
    if found is None:
        raise TenantNotFound(f"no tenant with code {code!r}")
    return found


async def tenant_where_allowed(ctx: GraphQLContext, code: str | None, permission: str) -> TenantInfo:
    """The tenant named ``code`` (``None``: the request's), once the caller is known to hold
    ``permission`` there — the check every resolver of a tenant's list or creation starts with."""
    ctx.signed_in()
    tenant = await load_by_code(ctx, code) if code is not None else ctx.tenant
    ctx.require_at(permission, tenant)
    return tenant


# -- pages of the ``tenants`` query ----------------------------------------------------------------


def root(ctx: GraphQLContext) -> TenantInfo:
    found = _read(ctx, select(TENANT).where(TENANT.c.parent_id.is_(None)))
    if not found:
        raise TenantNotFound("the tenant tree is empty: there is no central tenant yet")
    return found[0]


def all_by_code(ctx: GraphQLContext, kind: TenantKind | None, limit: int, after: str) -> list[TenantInfo]:
    query = select(TENANT).where(TENANT.c.code > after)
    if kind is not None:
        query = query.where(TENANT.c.kind == kind.value)
    return _read(ctx, query.order_by(TENANT.c.code).limit(limit))


def children_by_code(
    ctx: GraphQLContext, parent: TenantInfo, kind: TenantKind | None, limit: int, after: str
) -> list[TenantInfo]:
    query = select(TENANT).where(TENANT.c.parent_id == parent.id, TENANT.c.code > after)
    if kind is not None:
        query = query.where(TENANT.c.kind == kind.value)
    return _read(ctx, query.order_by(TENANT.c.code).limit(limit))


def subtree_page(
    ctx: GraphQLContext, parent: TenantInfo, kind: TenantKind | None, limit: int, after: tuple[int, str] | None
) -> list[TenantInfo]:
    """Everything below ``parent``, parents before children: ordered by (depth, code)."""
    c = TENANT.c
    query = select(TENANT).where(c.path > parent.path, c.path < subtree_upper_bound(parent.path))
    if kind is not None:
        query = query.where(c.kind == kind.value)
    if after is not None:
        depth, code = after
        query = query.where((c.depth > depth) | ((c.depth == depth) & (c.code > code)))
    return _read(ctx, query.order_by(c.depth, c.code).limit(limit))


def subtree_ids(ctx: GraphQLContext, tenant: TenantInfo) -> frozenset[int]:
    """``tenant`` and every tenant below it: the scope of a roll-up read (one statement)."""
    c = TENANT.c
    query = select(c.id).where(c.path >= tenant.path, c.path < subtree_upper_bound(tenant.path))
    with ctx.reader.connect() as connection:
        return frozenset(connection.scalars(query))
