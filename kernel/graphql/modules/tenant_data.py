"""Reads of the tenant tree for the GraphQL layer: batched (DataLoaders) and paged (connections).

Every function runs in a worker thread and reads with a platform session (the tenant table is the
kernel's own). The batch functions answer every key requested in one tick of the event loop with
one statement, so a tree query costs one statement per level, however many nodes it has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from nentang.kernel.graphql.context import GraphQLContext, LoaderSpec
from nentang.kernel.tenancy.models import Tenant, TenantKind, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantNotFound

#: (parent id, rows wanted, code after which the page starts).
ChildrenKey = tuple[int, int, str]


def _by_id(ctx: GraphQLContext, ids: list[int]) -> Sequence[TenantInfo | None]:
    with ctx.kernel.db.platform() as session:
        rows = {row.id: TenantInfo.of(row) for row in session.scalars(select(Tenant).where(Tenant.id.in_(set(ids))))}
    return [rows.get(i) for i in ids]


def _by_code(ctx: GraphQLContext, codes: list[str]) -> Sequence[TenantInfo | None]:
    with ctx.kernel.db.platform() as session:
        rows = {r.code: TenantInfo.of(r) for r in session.scalars(select(Tenant).where(Tenant.code.in_(set(codes))))}
    return [rows.get(c) for c in codes]


def _children(ctx: GraphQLContext, keys: list[ChildrenKey]) -> Sequence[list[TenantInfo]]:
    """Each parent's children after a code, at most ``limit``: one statement per (limit, after) pair
    (usually one: siblings in a tree query ask for the same page size)."""
    groups: dict[tuple[int, str], set[int]] = defaultdict(set)
    for parent_id, limit, after in keys:
        groups[(limit, after)].add(parent_id)
    found: dict[ChildrenKey, list[TenantInfo]] = defaultdict(list)
    with ctx.kernel.db.platform() as session:
        for (limit, after), parents in groups.items():
            rank = func.row_number().over(partition_by=Tenant.parent_id, order_by=Tenant.code).label("rank")
            ranked = select(Tenant, rank).where(Tenant.parent_id.in_(parents), Tenant.code > after).subquery()
            row = aliased(Tenant, ranked)
            query = select(row).where(ranked.c.rank <= limit).order_by(ranked.c.parent_id, ranked.c.code)
            for tenant in session.scalars(query):
                found[(tenant.parent_id or 0, limit, after)].append(TenantInfo.of(tenant))
    return [found.get(key, []) for key in keys]


def _child_counts(ctx: GraphQLContext, ids: list[int]) -> Sequence[int]:
    with ctx.kernel.db.platform() as session:
        rows = session.execute(
            select(Tenant.parent_id, func.count()).where(Tenant.parent_id.in_(set(ids))).group_by(Tenant.parent_id)
        )
        counts = {parent: count for parent, count in rows}
    return [counts.get(i, 0) for i in ids]


TENANT_BY_ID: LoaderSpec[int, TenantInfo | None] = LoaderSpec("tenant_by_id", _by_id)
TENANT_BY_CODE: LoaderSpec[str, TenantInfo | None] = LoaderSpec("tenant_by_code", _by_code)
CHILDREN: LoaderSpec[ChildrenKey, list[TenantInfo]] = LoaderSpec("tenant_children", _children)
CHILD_COUNT: LoaderSpec[int, int] = LoaderSpec("tenant_child_count", _child_counts)


# -- pages of the ``tenants`` query ----------------------------------------------------------------


def root(ctx: GraphQLContext) -> TenantInfo:
    with ctx.kernel.db.platform() as session:
        row = session.scalar(select(Tenant).where(Tenant.parent_id.is_(None)))
        if row is None:
            raise TenantNotFound("the tenant tree is empty: there is no central tenant yet")
        return TenantInfo.of(row)


def all_by_code(ctx: GraphQLContext, kind: TenantKind | None, limit: int, after: str) -> list[TenantInfo]:
    with ctx.kernel.db.platform() as session:
        query = select(Tenant).where(Tenant.code > after).order_by(Tenant.code).limit(limit)
        if kind is not None:
            query = query.where(Tenant.kind == kind)
        return [TenantInfo.of(r) for r in session.scalars(query)]


def children_by_code(
    ctx: GraphQLContext, parent: TenantInfo, kind: TenantKind | None, limit: int, after: str
) -> list[TenantInfo]:
    with ctx.kernel.db.platform() as session:
        query = select(Tenant).where(Tenant.parent_id == parent.id, Tenant.code > after)
        if kind is not None:
            query = query.where(Tenant.kind == kind)
        return [TenantInfo.of(r) for r in session.scalars(query.order_by(Tenant.code).limit(limit))]


def subtree_page(
    ctx: GraphQLContext, parent: TenantInfo, kind: TenantKind | None, limit: int, after: tuple[int, str] | None
) -> list[TenantInfo]:
    """Everything below ``parent``, parents before children: ordered by (depth, code)."""
    with ctx.kernel.db.platform() as session:
        query = select(Tenant).where(Tenant.path > parent.path, Tenant.path < subtree_upper_bound(parent.path))
        if kind is not None:
            query = query.where(Tenant.kind == kind)
        if after is not None:
            depth, code = after
            query = query.where((Tenant.depth > depth) | ((Tenant.depth == depth) & (Tenant.code > code)))
        query = query.order_by(Tenant.depth, Tenant.code).limit(limit)
        return [TenantInfo.of(r) for r in session.scalars(query)]
