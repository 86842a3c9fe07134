"""The database access the two reference applications of ``graphql_bench.py`` share, and the floor
and strawberry over the ``feedback`` plugin's rows (the tenant list's are in ``_graphql_lists.py``).

Both read with SQLAlchemy Core through :class:`Rows`, which does what our stack does around a read
and nothing more: on PostgreSQL it logs in as the same login role as ours (a member of the app role,
row-level security in force), checks a connection out of a pool and sets the tenant the policies
read (``set_config(..., true)``) in the read's transaction; on SQLite it keeps one connection per
thread, as ours does. Where each statement runs follows ours (:class:`Access`): on the event loop
where ours reads there, else each statement in its own hop to a thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, create_engine, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types

R = TypeVar("R")

# The tables as a plain application would declare them (not through the kernel).
_metadata = MetaData()
feedback_item = Table(
    "feedback_item",
    _metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("text", String),
    Column("submitted_by", String),
    Column("submitted_at", DateTime(timezone=True)),
)
#: What row-level security reads on PostgreSQL (the kernel's setting name, a public contract).
_SET_TENANT = text("SELECT set_config('nentang.read_tenants', :tenant, true)")


class Access:
    """Where the baselines run a statement: inline on the event loop, or in a thread and back with
    ``loop.run_in_executor`` (asyncio's cheapest hop). ``hop`` is set from where ours read."""

    def __init__(self) -> None:
        self.hop = False
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="baseline")

    async def run(self, work: Callable[..., R], *args: Any) -> R:
        if not self.hop:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class Rows:
    """The baselines' reads: the same rows as ours, through the same login role."""

    def __init__(self, url: str, tenant_id: int) -> None:
        self.engine = create_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.tenant_id = tenant_id
        self.access = Access()
        self._local = threading.local()
        self._kept: list[Connection] = []

    def execute(self, query: Any, tenant: int | None = None) -> list[Any]:
        """One read: ``query``'s rows, with ``tenant`` set for row-level security on PostgreSQL."""
        if self.postgres:
            with self.engine.connect() as connection:
                if tenant is not None:
                    connection.execute(_SET_TENANT, {"tenant": str(tenant)})
                rows = list(connection.execute(query))
                connection.commit()
                return rows
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.engine.connect()
            self._kept.append(connection)
        rows = list(connection.execute(query))
        connection.commit()
        return rows

    def feedback(self, first: int, after: int | None = None) -> list[Any]:
        query = (
            select(feedback_item.c.number, feedback_item.c.text, feedback_item.c.submitted_at)
            .where(feedback_item.c.tenant_id == self.tenant_id)
            .order_by(feedback_item.c.number)
            .limit(first + 1)
        )
        if after is not None:
            query = query.where(feedback_item.c.number > after)
        return self.execute(query, self.tenant_id)

    def policies_apply(self) -> bool:
        """Whether row-level security hides the rows from a read that sets no tenant (PostgreSQL)."""
        with self.engine.connect() as connection:
            return not list(connection.execute(select(feedback_item.c.number).limit(1)))

    def close(self) -> None:
        self.access.close()
        for connection in self._kept:
            connection.close()
        self.engine.dispose()


def feedback_json(rows: list[Any], first: int, fields: Collection[str]) -> dict[str, Any]:
    """A page as JSON, with the given fields of the page (a GraphQL selection, by hand)."""
    page = rows[:first]
    answer = {
        "hasMore": len(rows) > first,
        "endCursor": page[-1].number if page else None,
        "items": [{"number": r.number, "text": r.text, "submittedAt": r.submitted_at.isoformat()} for r in page],
    }
    return {name: answer[name] for name in fields}


def feedback_floor(rows: Rows) -> Route:
    """The least a hand-written endpoint does: read the JSON body, run the ``SELECT`` where ours
    runs it, answer with the same JSON."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.json()
        first = int(body["first"])
        found = await rows.access.run(rows.feedback, first)
        return JSONResponse({"data": {"feedback_items": feedback_json(found, first, body["fields"])}})

    return Route("/feedback", endpoint, methods=["POST"])


def floor_app(rows: Rows, *routes: Route) -> Starlette:
    return Starlette(routes=[feedback_floor(rows), *routes])


@strawberry.type
class FeedbackItem:
    number: int
    text: str
    submitted_at: datetime


@strawberry.type
class FeedbackPage:
    items: list[FeedbackItem]
    end_cursor: int | None
    has_more: bool


def feedback_query(rows: Rows) -> type:
    @strawberry.type
    class FeedbackQuery:
        @strawberry.field(name="feedback_items")  # the plugin's name, as our schema serves it
        async def feedback_items(self, first: int, after: int | None = None) -> FeedbackPage:
            found = await rows.access.run(rows.feedback, first, after)
            page = found[:first]
            return FeedbackPage(
                items=[FeedbackItem(number=r.number, text=r.text, submitted_at=r.submitted_at) for r in page],
                end_cursor=page[-1].number if page else after,
                has_more=len(found) > first,
            )

    return FeedbackQuery


def strawberry_schema(*queries: type) -> strawberry.Schema:
    """The queries as one schema, with strawberry's documented performance options on: the parser
    and the validation caches (``strawberry.extensions``)."""
    query = merge_types("Query", queries)
    return strawberry.Schema(query=query, extensions=[ParserCache(maxsize=100), ValidationCache(maxsize=100)])
