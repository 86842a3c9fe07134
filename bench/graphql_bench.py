#!/usr/bin/env python3
"""Benchmark: our GraphQL stack against plain strawberry and a raw Starlette endpoint (issue 5).

Run from the repository root::

    .venv/bin/python bench/graphql_bench.py              # SQLite in a temporary folder
    .venv/bin/python bench/graphql_bench.py --postgres   # a throwaway PostgreSQL database
    .venv/bin/python bench/graphql_bench.py --profile    # and where our small query's time goes

One database, one run, three ASGI applications over the same rows (the ``feedback`` example
plugin's table, 1,000 items for commune 00001):

- **floor** — a Starlette route (a plain ``def`` endpoint, run in Starlette's thread pool, the way
  Starlette runs blocking code) that reads the rows with one SQLAlchemy Core ``SELECT`` and returns
  the very JSON the GraphQL stacks return;
- **strawberry** — ``strawberry.asgi.GraphQL`` with default settings over a schema of the same
  shape, its resolver doing the same ``SELECT``: every request parses and validates its document;
- **ours** — ``create_app(kernel)``: a bearer API token checked, the tenant taken from the token and
  checked as serving, the tenant's schema (kernel + feedback), the plugin's resolver asking for
  ``feedback.read`` and reading through a tenant-scoped session (row-level security on PostgreSQL),
  the resolver and its read in a plugin thread under the watchdog's deadline (see
  ``docs/graphql.md``, Performance).

Two queries: **small** — ``feedback_items(first: 1)`` with five fields (``hasMore``, ``endCursor``
and an item's ``number``, ``text``, ``submittedAt``); **page** — ``feedback_items(first: 100)``,
each item with those three fields. Every response is checked against the floor's once.

Each application is driven in-process over ASGI (no sockets: the HTTP server would cost the same
for all three), ``--concurrency`` requests in flight on one event loop. The stacks take turns,
``--rounds`` rounds of ``--requests`` requests each; a figure is the median over rounds of
requests per second (wall clock) and CPU ms per request (``time.process_time``: all threads of this
process, so the thread pool counts, and time spent descheduled on a busy machine does not).

Targets (issue 5, small query): ours >= 3 x plain strawberry's throughput and <= 4 x the floor's
CPU per request. The last line is always
``graphql: floor_cpu_ms=<x> strawberry_cpu_ms=<x> ours_cpu_ms=<x> ours_vs_strawberry=<x> ours_vs_floor=<x>``
(``ours_vs_strawberry`` is the throughput ratio, ``ours_vs_floor`` the CPU ratio, both for the small
query).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graphql_stacks import (
    FeedbackReader,
    floor_app,
    strawberry_app,
)

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind

COMMUNE = "00001"
ROWS = 1_000
SMALL = "{ feedback_items(first: 1) { hasMore endCursor items { number text submittedAt } } }"
PAGE = "{ feedback_items(first: 100) { items { number text submittedAt } } }"
#: name -> (document, first, the page's fields it selects)
QUERIES = {"small": (SMALL, 1, ("hasMore", "endCursor", "items")), "page": (PAGE, 100, ("items",))}
STACKS = ("floor", "strawberry", "ours")


@dataclass(frozen=True, slots=True)
class Figures:
    rps: float
    cpu_ms: float


# -- the data ------------------------------------------------------------------------------------


def seed(kernel: Kernel) -> str:
    """The tree, the feedback plugin enabled for the commune, its rows, and a token that may read them."""
    from nentang_feedback.models import FeedbackRecord

    actor = Actor.system("bench")
    tenants = kernel.tenants
    tenants.create(code="TW", name="Trung ương", kind=TenantKind.CENTRAL, parent_code=None, actor=actor)
    tenants.create(code="01", name="Tỉnh đo thử", kind=TenantKind.PROVINCE, parent_code="TW", actor=actor)
    commune = tenants.create(code=COMMUNE, name="Xã đo thử", kind=TenantKind.COMMUNE, parent_code="01", actor=actor)
    kernel.start()
    if "feedback" not in kernel.plugins.host.plugins:
        raise SystemExit(f"graphql: the feedback example plugin is not registered: {kernel.plugins.host.quarantined}")
    kernel.plugins.activation.enable(actor=actor, plugin="feedback", tenant_code=COMMUNE, checked=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with kernel.db.tenant(commune.id) as session, session.begin():
        for number in range(1, ROWS + 1):
            session.add(
                FeedbackRecord(
                    number=number,
                    text=f"Phản ánh số {number}: đường liên xã bị ngập sau mưa lớn",
                    submitted_by="user:1",
                    submitted_at=start + timedelta(minutes=number),
                )
            )
    created = kernel.tokens.create_as_operator(
        actor, tenant_code=COMMUNE, name="bench", roles=["feedback.officer"], expires_in_days=30
    )
    return created.plaintext


# -- driving an ASGI app in-process -------------------------------------------------------------


class Driver:
    """Sends one POST to an ASGI app and returns (status, body), with no sockets in between."""

    def __init__(self, app: Callable[..., Any], path: str, headers: dict[str, str]) -> None:
        self.app = app
        self.path = path
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def post(self, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # like a connection that stays open
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    async def run(self, body: bytes, requests: int, concurrency: int) -> Figures:
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                status, answer = await self.post(body)
                if status != 200:
                    raise RuntimeError(f"{self.path}: HTTP {status}: {answer[:500]!r}")

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return Figures(rps=requests / wall, cpu_ms=cpu * 1000 / requests)


@contextmanager
def lifespan(app: Any, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Run the app's lifespan startup and shutdown (our app starts the kernel there)."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = loop.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, messages.get, replies.put))
    messages.put_nowait({"type": "lifespan.startup"})
    reply = loop.run_until_complete(replies.get())
    if reply["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"lifespan startup failed: {reply}")
    try:
        yield
    finally:
        messages.put_nowait({"type": "lifespan.shutdown"})
        loop.run_until_complete(replies.get())
        loop.run_until_complete(task)


# -- the run --------------------------------------------------------------------------------------


def check_same(name: str, stack: str, status: int, body: bytes, expected: Any) -> None:
    if status != 200 or json.loads(body) != expected:
        raise SystemExit(f"graphql: {stack} answered the {name} query differently (HTTP {status}): {body[:300]!r}")


def measure(args: argparse.Namespace, url: str) -> dict[tuple[str, str], Figures]:
    settings = Settings(database_url=url, mode="development", log_json=True, log_level="WARNING")
    configure_logging(json=True, level="WARNING")
    kernel = create_kernel(settings)
    try:
        kernel.upgrade_database()
        token = seed(kernel)
        tenant_id = kernel.tenants.get(COMMUNE).id
        reader = FeedbackReader(url, tenant_id)
        ours = create_app(kernel)
        apps = {
            "floor": Driver(floor_app(reader), "/feedback", {"content-type": "application/json"}),
            "strawberry": Driver(strawberry_app(reader), "/graphql", {"content-type": "application/json"}),
            "ours": Driver(ours, "/graphql", {"content-type": "application/json", "authorization": f"Bearer {token}"}),
        }
        loop = asyncio.new_event_loop()
        with lifespan(ours, loop):
            results = {}
            for name, (query, first, fields) in QUERIES.items():
                body = json.dumps({"query": query}).encode()
                floor_body = json.dumps({"first": first, "fields": fields}).encode()
                expected = {"data": {"feedback_items": reader.page_json(first, fields)}}
                for stack, driver in apps.items():
                    sent = floor_body if stack == "floor" else body
                    status, answer = loop.run_until_complete(driver.post(sent))
                    check_same(name, stack, status, answer, expected)
                    loop.run_until_complete(driver.run(sent, args.warmup, args.concurrency))
                rounds: dict[str, list[Figures]] = {stack: [] for stack in STACKS}
                for _ in range(args.rounds):
                    for stack, driver in apps.items():
                        sent = floor_body if stack == "floor" else body
                        rounds[stack].append(loop.run_until_complete(driver.run(sent, args.requests, args.concurrency)))
                for stack in STACKS:
                    results[name, stack] = Figures(
                        rps=statistics.median(f.rps for f in rounds[stack]),
                        cpu_ms=statistics.median(f.cpu_ms for f in rounds[stack]),
                    )
            if args.profile:
                profile(loop, apps["ours"], json.dumps({"query": SMALL}).encode(), args)
        loop.close()
        reader.close()
        return results
    finally:
        kernel.close()


def profile(loop: asyncio.AbstractEventLoop, driver: Driver, body: bytes, args: argparse.Namespace) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    loop.run_until_complete(driver.run(body, args.requests, 1))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
    print(out.getvalue())


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    if not args.postgres:
        with tempfile.TemporaryDirectory(prefix="nentang-graphql-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    from _support import postgres_unreachable, throwaway_postgres

    reason = postgres_unreachable(args.postgres_url)
    if reason:
        raise SystemExit(f"graphql: PostgreSQL at {args.postgres_url} is not usable: {reason}")
    with throwaway_postgres(args.postgres_url) as url:
        yield url


def report(results: dict[tuple[str, str], Figures], args: argparse.Namespace) -> str:
    for name in QUERIES:
        floor, plain, ours = (results[name, stack] for stack in STACKS)
        print(
            f"{name}: "
            + " ".join(f"{s}_rps={results[name, s].rps:.0f} {s}_cpu_ms={results[name, s].cpu_ms:.3f}" for s in STACKS)
            + f" ours_vs_strawberry_rps={ours.rps / plain.rps:.2f} ours_vs_floor_cpu={ours.cpu_ms / floor.cpu_ms:.2f}"
        )
    floor, plain, ours = (results["small", stack] for stack in STACKS)
    vs_plain, vs_floor = ours.rps / plain.rps, ours.cpu_ms / floor.cpu_ms
    met = vs_plain >= 3 and vs_floor <= 4
    print(
        f"targets (small query): ours >= 3 x strawberry req/s: {vs_plain:.2f}; ours <= 4 x floor CPU: "
        f"{vs_floor:.2f} -> {'met' if met else 'NOT met'}"
    )
    return (
        f"graphql: floor_cpu_ms={floor.cpu_ms:.3f} strawberry_cpu_ms={plain.cpu_ms:.3f} ours_cpu_ms={ours.cpu_ms:.3f} "
        f"ours_vs_strawberry={vs_plain:.2f} ours_vs_floor={vs_floor:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL database")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=1_000, help="requests per round and stack")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--profile", action="store_true", help="profile our stack on the small query")
    args = parser.parse_args(argv)
    with database(args) as url:
        results = measure(args, url)
    print(
        f"setup: {'postgresql' if args.postgres else 'sqlite'}, {ROWS} rows, {args.rounds} rounds x "
        f"{args.requests} requests, concurrency {args.concurrency}"
    )
    print(report(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
