"""The list case of ``graphql_bench.py``: a page of the tenant tree with a resolver field per item,
as the floor and strawberry serve it (the same statements as ours, where ours runs them).

The document: ``tenants(first: N, parent: "TW", subtree: true)``, each edge with its ``cursor`` and
a node of nine fields, one of them the resolver field ``parent { code }``: ten fields per item. Ours
reads the parent tenant by code, the page, then every item's parent in one batch (a DataLoader);
the baselines read the same three statements, strawberry with its own documented DataLoader.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from _graphql_stacks import Rows, feedback_query, strawberry_schema
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader

NODE = "code name kind divisionType status depth createdAt updatedAt parent { code }"


def list_document(first: int) -> str:
    return f'{{ tenants(first: {first}, parent: "TW", subtree: true) {{ edges {{ node {{ {NODE} }} cursor }} }} }}'


_metadata = MetaData()
tenant = Table(
    "kernel_tenant",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String),
    Column("name", String),
    Column("kind", String),
    Column("division_type", String),
    Column("parent_id", Integer),
    Column("path", String),
    Column("depth", Integer),
    Column("status", String),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)


def _by_code(rows: Rows, code: str) -> Any:
    found = rows.execute(select(tenant).where(tenant.c.code == code))
    return found[0]


def _subtree(rows: Rows, above: Any, first: int) -> list[Any]:
    c = tenant.c
    upper = above.path[:-1] + "0"  # the smallest string above every path under ``above``
    query = select(tenant).where(c.path > above.path, c.path < upper).order_by(c.depth, c.code).limit(first + 1)
    return rows.execute(query)


def _by_ids(rows: Rows, ids: list[int]) -> list[Any]:
    found = {r.id: r for r in rows.execute(select(tenant).where(tenant.c.id.in_(set(ids))))}
    return [found.get(i) for i in ids]


def _utc(at: datetime) -> str:
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()


def _cursor(row: Any) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps([row.depth, row.code], separators=(",", ":")).encode()).decode().rstrip("=")
    )


def list_floor(rows: Rows) -> Route:
    """The three reads, then the JSON by hand."""

    async def endpoint(request: Request) -> JSONResponse:
        first = int((await request.json())["first"])
        above = await rows.access.run(_by_code, rows, "TW")
        page = (await rows.access.run(_subtree, rows, above, first))[:first]
        parents = await rows.access.run(_by_ids, rows, list({r.parent_id for r in page}))
        codes = {p.id: p.code for p in parents if p is not None}
        edges = [
            {
                "node": {
                    "code": r.code,
                    "name": r.name,
                    "kind": r.kind.upper(),
                    "divisionType": r.division_type,
                    "status": r.status.upper(),
                    "depth": r.depth,
                    "createdAt": _utc(r.created_at),
                    "updatedAt": _utc(r.updated_at),
                    "parent": {"code": codes[r.parent_id]},
                },
                "cursor": _cursor(r),
            }
            for r in page
        ]
        return JSONResponse({"data": {"tenants": {"edges": edges}}})

    return Route("/tenants", endpoint, methods=["POST"])


@strawberry.enum(name="TenantKind")
class Kind(Enum):
    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"
    UNIT = "unit"


@strawberry.enum(name="TenantStatus")
class Status(Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@strawberry.type
class Tenant:
    code: str
    name: str
    kind: Kind
    division_type: str | None
    status: Status
    depth: int
    created_at: datetime
    updated_at: datetime
    parent_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, row: Any) -> Tenant:
        return cls(
            code=row.code,
            name=row.name,
            kind=Kind(row.kind),
            division_type=row.division_type,
            status=Status(row.status),
            depth=row.depth,
            created_at=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
            updated_at=row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC),
            parent_id=row.parent_id,
        )

    @strawberry.field
    async def parent(self, info: strawberry.Info) -> Tenant | None:
        if self.parent_id is None:
            return None
        found = await info.context["parents"].load(self.parent_id)
        return Tenant.of(found) if found is not None else None


@strawberry.type
class TenantEdge:
    node: Tenant
    cursor: str


@strawberry.type
class TenantConnection:
    edges: list[TenantEdge]


def list_query(rows: Rows) -> type:
    @strawberry.type
    class TenantQuery:
        @strawberry.field
        async def tenants(self, first: int, parent: str, subtree: bool = False) -> TenantConnection:
            above = await rows.access.run(_by_code, rows, parent)
            page = (await rows.access.run(_subtree, rows, above, first))[:first]
            return TenantConnection(edges=[TenantEdge(node=Tenant.of(r), cursor=_cursor(r)) for r in page])

    return TenantQuery


class ListGraphQL(GraphQL):
    """strawberry's ASGI app with a per-request DataLoader for ``parent`` (strawberry's own)."""

    def __init__(self, rows: Rows, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        async def load(ids: list[int]) -> list[Any]:
            return await self.rows.access.run(_by_ids, self.rows, ids)

        return {"request": request, "response": response, "parents": DataLoader(load_fn=load)}


def strawberry_app(rows: Rows) -> Starlette:
    """strawberry's own ASGI app over the feedback and the list queries, caches on, no GraphiQL."""
    schema = strawberry_schema(feedback_query(rows), list_query(rows))
    return Starlette(routes=[Route("/graphql", ListGraphQL(rows, schema, graphql_ide=None))])
