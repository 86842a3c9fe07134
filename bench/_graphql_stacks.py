"""The two reference applications of ``graphql_bench.py``: the floor (a raw Starlette endpoint)
and plain strawberry with default settings, both reading the ``feedback`` plugin's rows with the
same SQLAlchemy Core ``SELECT`` and answering with the same JSON as our stack."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

# The feedback plugin's table as a plain application would declare it (not through the kernel).
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


class FeedbackReader:
    """One commune's feedback through a plain engine: the database read all three stacks share."""

    def __init__(self, url: str, tenant_id: int) -> None:
        self.engine = create_engine(url)
        self.tenant_id = tenant_id

    def rows(self, first: int, after: int | None = None) -> list[Any]:
        query = (
            select(feedback_item.c.number, feedback_item.c.text, feedback_item.c.submitted_at)
            .where(feedback_item.c.tenant_id == self.tenant_id)
            .order_by(feedback_item.c.number)
            .limit(first + 1)
        )
        if after is not None:
            query = query.where(feedback_item.c.number > after)
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    def page_json(self, first: int, fields: Collection[str] = ("hasMore", "endCursor", "items")) -> dict[str, Any]:
        """The page as JSON, with the given fields of the page (a GraphQL selection, by hand)."""
        rows = self.rows(first)
        page = rows[:first]
        answer = {
            "hasMore": len(rows) > first,
            "endCursor": page[-1].number if page else None,
            "items": [{"number": r.number, "text": r.text, "submittedAt": r.submitted_at.isoformat()} for r in page],
        }
        return {name: answer[name] for name in fields}

    def close(self) -> None:
        self.engine.dispose()


def floor_app(reader: FeedbackReader) -> Starlette:
    """The least a hand-written endpoint does: read the JSON body, run the ``SELECT`` in Starlette's
    thread pool (the way Starlette runs blocking code), answer with the same JSON."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.json()
        page = await run_in_threadpool(reader.page_json, int(body["first"]), body["fields"])
        return JSONResponse({"data": {"feedback_items": page}})

    return Starlette(routes=[Route("/feedback", endpoint, methods=["POST"])])


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


def strawberry_app(reader: FeedbackReader) -> Starlette:
    """strawberry's own ASGI app with default settings over a schema of the same shape."""

    @strawberry.type
    class Query:
        @strawberry.field(name="feedback_items")  # the plugin's name, as our schema serves it
        def feedback_items(self, first: int, after: int | None = None) -> FeedbackPage:
            rows = reader.rows(first, after)
            page = rows[:first]
            return FeedbackPage(
                items=[FeedbackItem(number=r.number, text=r.text, submitted_at=r.submitted_at) for r in page],
                end_cursor=page[-1].number if page else after,
                has_more=len(rows) > first,
            )

    return Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query)))])
