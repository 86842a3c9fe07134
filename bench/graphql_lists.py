#!/usr/bin/env python3
"""Benchmark: a 1,000-item list whose items have a resolver field (``parent { code }``), issue 14 item 3.

Run from the repository root::

    .venv/bin/python bench/graphql_lists.py              # SQLite in a temporary folder
    .venv/bin/python bench/graphql_lists.py --postgres   # a throwaway PostgreSQL database

One database, one run, three ASGI applications over the same rows: a province ``01`` with 1,000
communes, and the query
``{ tenants(first: 1000, parent: "01") { edges { node { code name parent { code } } } } }``.

Baselines, one line each:

- **floor** — a Starlette route reading the page (one Core ``SELECT`` of the children) and then the
  parents of the page (one ``SELECT ... WHERE id IN``), each in Starlette's thread pool as ours does,
  and returning the same JSON (asserted, parsed);
- **strawberry** — ``strawberry.asgi.GraphQL`` over a schema of the same shape with its documented
  performance options on (``ParserCache`` and ``ValidationCache``), the page read the same way and
  ``parent`` through a per-request strawberry ``DataLoader`` (one batched ``SELECT``), equal JSON asserted;
- **ours** — ``create_app(kernel)``: a bearer API token, the tenant checked, the kernel's ``tenants``
  field and its ``parent`` field (a permission check per item, the parents read in one batch).

Every timed response is checked: HTTP 200, no ``errors``, the body equal to the floor's (a wrong
answer stops the run). Requests are driven in-process over ASGI (``graphql_bench.Driver``),
``--concurrency`` in flight; figures are medians over ``--rounds`` of wall-clock ms per request and
CPU ms per request (``time.process_time``, every thread of the process).

Targets (issue 14): ours <= 2.5 x the floor's CPU and >= 5 x faster than strawberry. The last line
is always ``graphql_lists: floor_ms=<x> strawberry_ms=<x> ours_ms=<x> floor_cpu_ms=<x>
strawberry_cpu_ms=<x> ours_cpu_ms=<x> ours_vs_floor=<x> ours_vs_strawberry=<x> checked=<n>``
(``ours_vs_floor`` is our CPU over the floor's; ``ours_vs_strawberry`` strawberry's CPU over ours).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strawberry
from graphql_bench import Driver, database, lifespan
from sqlalchemy import create_engine, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.extensions import ParserCache, ValidationCache

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import Tenant as TenantRow
from nentang.kernel.tenancy.models import TenantKind

ITEMS = 1_000
QUERY = '{ tenants(first: 1000, parent: "01") { edges { node { code name parent { code } } } } }'
STACKS = ("floor", "strawberry", "ours")
TENANT = TenantRow.__table__  # type: ignore[attr-defined]


def seed(kernel: Kernel) -> str:
    """The central tenant, province 01 with 1,000 communes, and a token that may read them."""
    actor = Actor.system("bench")
    with kernel.db.platform() as session, session.begin():
        create = kernel.tenants.create_in
        create(session, code="TW", name="Trung ương", kind=TenantKind.CENTRAL, parent_code=None, actor=actor)
        create(session, code="01", name="Tỉnh đo thử", kind=TenantKind.PROVINCE, parent_code="TW", actor=actor)
        for n in range(ITEMS):
            create(
                session, code=f"{10000 + n}", name=f"Xã số {n}", kind=TenantKind.COMMUNE, parent_code="01", actor=actor
            )
    kernel.start()
    created = kernel.tokens.create_as_operator(
        actor, tenant_code="01", name="bench", roles=["viewer"], expires_in_days=30
    )
    return created.plaintext


class TreeReader:
    """The two reads every stack makes: a page of children by code, then their parents by id."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def children(self, parent_code: str, first: int) -> list[Any]:
        parent = select(TENANT.c.id).where(TENANT.c.code == parent_code).scalar_subquery()
        query = (
            select(TENANT.c.code, TENANT.c.name, TENANT.c.parent_id)
            .where(TENANT.c.parent_id == parent)
            .order_by(TENANT.c.code)
            .limit(first + 1)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query))[:first]

    def codes_by_id(self, ids: list[int]) -> list[str | None]:
        with self.engine.connect() as connection:
            found = dict(connection.execute(select(TENANT.c.id, TENANT.c.code).where(TENANT.c.id.in_(set(ids)))).all())
        return [found.get(i) for i in ids]

    def close(self) -> None:
        self.engine.dispose()


def floor_app(reader: TreeReader) -> Starlette:
    async def endpoint(request: Request) -> JSONResponse:
        body = await request.json()
        rows = await run_in_threadpool(reader.children, body["parent"], int(body["first"]))
        codes = await run_in_threadpool(reader.codes_by_id, [r.parent_id for r in rows])
        edges = [
            {"node": {"code": r.code, "name": r.name, "parent": {"code": c} if c else None}}
            for r, c in zip(rows, codes, strict=True)
        ]
        return JSONResponse({"data": {"tenants": {"edges": edges}}})

    return Starlette(routes=[Route("/tenants", endpoint, methods=["POST"])])


@strawberry.type
class Parent:
    code: str


@strawberry.type
class Node:
    code: str
    name: str
    parent_id: strawberry.Private[int]

    @strawberry.field
    async def parent(self, info: strawberry.Info) -> Parent | None:
        code = await info.context["parents"].load(self.parent_id)
        return Parent(code=code) if code else None


@strawberry.type
class Edge:
    node: Node


@strawberry.type
class Page:
    edges: list[Edge]


def strawberry_app(reader: TreeReader) -> Starlette:
    @strawberry.type
    class Query:
        @strawberry.field
        async def tenants(self, first: int, parent: str) -> Page:
            rows = await run_in_threadpool(reader.children, parent, first)
            return Page(edges=[Edge(node=Node(code=r.code, name=r.name, parent_id=r.parent_id)) for r in rows])

    async def parents(ids: list[int]) -> list[str | None]:
        return await run_in_threadpool(reader.codes_by_id, ids)

    class App(GraphQL):  # type: ignore[type-arg]
        async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
            return {"parents": DataLoader(load_fn=parents)}

    # Instances, not classes: a class would be built afresh per request, and so would its cache
    # (strawberry warns that instances are deprecated; they are what keeps the cache across requests).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        schema = strawberry.Schema(query=Query, extensions=[ParserCache(maxsize=100), ValidationCache(maxsize=100)])
    return Starlette(routes=[Route("/graphql", App(schema))])


async def timed(driver: Driver, body: bytes, expected: bytes, requests: int, concurrency: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per request; every answer checked against ``expected``."""
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            status, answer = await driver.post(body)
            if status != 200 or json.loads(answer) != json.loads(expected):
                raise SystemExit(f"graphql_lists: {driver.path} answered differently (HTTP {status}): {answer[:300]!r}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - wall) * 1000 / requests, (time.process_time() - cpu) * 1000 / requests


def measure(args: argparse.Namespace, url: str) -> tuple[dict[str, tuple[float, float]], int]:
    graphql = GraphQLSettings(max_page_size=ITEMS, max_cost=100_000)
    settings = Settings(database_url=url, mode="development", log_json=True, log_level="WARNING", graphql=graphql)
    configure_logging(json=True, level="WARNING")
    kernel = create_kernel(settings)
    try:
        kernel.upgrade_database()
        token = seed(kernel)
        reader = TreeReader(url)
        ours = create_app(kernel)
        json_headers = {"content-type": "application/json"}
        apps = {
            "floor": (Driver(floor_app(reader), "/tenants", json_headers), {"parent": "01", "first": ITEMS}),
            "strawberry": (Driver(strawberry_app(reader), "/graphql", json_headers), {"query": QUERY}),
            "ours": (
                Driver(ours, "/graphql", {**json_headers, "authorization": f"Bearer {token}"}),
                {"query": QUERY},
            ),
        }
        loop = asyncio.new_event_loop()
        checked = 0
        with lifespan(ours, loop):
            floor_driver, floor_body = apps["floor"]
            status, expected = loop.run_until_complete(floor_driver.post(json.dumps(floor_body).encode()))
            edges = json.loads(expected)["data"]["tenants"]["edges"]
            if status != 200 or len(edges) != ITEMS or any(e["node"]["parent"] != {"code": "01"} for e in edges):
                raise SystemExit(f"graphql_lists: the floor's page is wrong (HTTP {status}): {expected[:300]!r}")
            bodies = {stack: json.dumps(body).encode() for stack, (_driver, body) in apps.items()}
            for stack, (driver, _body) in apps.items():
                loop.run_until_complete(timed(driver, bodies[stack], expected, args.warmup, args.concurrency))
                checked += args.warmup
            rounds: dict[str, list[tuple[float, float]]] = {stack: [] for stack in STACKS}
            for _ in range(args.rounds):
                for stack, (driver, _body) in apps.items():
                    figures = timed(driver, bodies[stack], expected, args.requests, args.concurrency)
                    rounds[stack].append(loop.run_until_complete(figures))
                    checked += args.requests
        loop.close()
        reader.close()
        medians = {
            stack: (statistics.median(w for w, _ in rounds[stack]), statistics.median(c for _, c in rounds[stack]))
            for stack in STACKS
        }
        return medians, checked
    finally:
        kernel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL database")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=20, help="requests per round and stack")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight at once")
    args = parser.parse_args(argv)
    with database(args) as url:
        figures, checked = measure(args, url)
    print(
        f"setup: {'postgresql' if args.postgres else 'sqlite'}, {ITEMS} items, {args.rounds} rounds x "
        f"{args.requests} requests, concurrency {args.concurrency}"
    )
    for stack in STACKS:
        print(f"{stack}: ms_per_request={figures[stack][0]:.2f} cpu_ms={figures[stack][1]:.2f}")
    (floor_ms, floor_cpu), (plain_ms, plain_cpu), (ours_ms, ours_cpu) = (figures[s] for s in STACKS)
    vs_floor, vs_plain = ours_cpu / floor_cpu, plain_cpu / ours_cpu
    met = vs_floor <= 2.5 and vs_plain >= 5
    print(f"targets: ours <= 2.5 x floor CPU: {vs_floor:.2f}; ours >= 5 x faster than strawberry: {vs_plain:.2f}")
    print(f"targets {'met' if met else 'NOT met'}")
    print(
        f"graphql_lists: floor_ms={floor_ms:.2f} strawberry_ms={plain_ms:.2f} ours_ms={ours_ms:.2f} "
        f"floor_cpu_ms={floor_cpu:.2f} strawberry_cpu_ms={plain_cpu:.2f} ours_cpu_ms={ours_cpu:.2f} "
        f"ours_vs_floor={vs_floor:.2f} ours_vs_strawberry={vs_plain:.2f} checked={checked}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
