"""One database's run of ``graphql_bench.py``: the data, the three stacks, the references, the rounds."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _graphql_drive import Driver, Figures, ReadProbe, lifespan
from _graphql_lists import list_document, list_floor, strawberry_app
from _graphql_stacks import Rows, floor_app
from sqlalchemy import create_engine, text

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind
from nentang.kernel.tenancy.seed import seed_national_tree

from _support import as_login, postgres_unreachable, throwaway_login_role, throwaway_postgres

ROWS = 1_000
STACKS = ("floor", "strawberry", "ours")
SMALL = "{ feedback_items(first: 1) { hasMore endCursor items { number text submittedAt } } }"
PAGE = "{ feedback_items(first: 100) { items { number text submittedAt } } }"


@dataclass
class Run:
    dialect: str
    queries: tuple[str, ...] = ()
    figures: dict[tuple[str, str], Figures] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checked: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    document: str
    floor_path: str
    floor_body: dict[str, Any]
    table: str  # the table whose reads the probe watches
    items: int  # how many items the reference must hold


def queries(list_items: int) -> list[Query]:
    fields = ["hasMore", "endCursor", "items"]
    return [
        Query("small", SMALL, "/feedback", {"first": 1, "fields": fields}, "feedback_item", 1),
        Query("page", PAGE, "/feedback", {"first": 100, "fields": ["items"]}, "feedback_item", 100),
        Query("list", list_document(list_items), "/tenants", {"first": list_items}, "kernel_tenant", list_items),
    ]


def seed(kernel: Kernel) -> tuple[str, str, int]:
    """The national tree, feedback enabled with its rows at the first commune; (commune token,
    central token, commune id)."""
    from nentang_feedback.models import FeedbackRecord

    actor = Actor.system("bench")
    seed_national_tree(kernel.db, kernel.tenants, kernel.audit, actor)
    commune = kernel.tenants.list(kind=TenantKind.COMMUNE, limit=1)[0]
    kernel.start()
    if "feedback" not in kernel.plugins.host.plugins:
        raise SystemExit(f"graphql: the feedback example plugin is not registered: {kernel.plugins.host.quarantined}")
    kernel.plugins.activation.enable(actor=actor, plugin="feedback", tenant_code=commune.code, checked=False)
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
    tokens = kernel.tokens
    reader = tokens.create_as_operator(
        actor, tenant_code=commune.code, name="bench", roles=["feedback.officer"], expires_in_days=30
    )
    viewer = tokens.create_as_operator(actor, tenant_code="TW", name="bench", roles=["viewer"], expires_in_days=30)
    return reader.plaintext, viewer.plaintext, commune.id


@contextmanager
def database(args: argparse.Namespace, dialect: str) -> Iterator[tuple[str, str | None, str | None]]:
    """(owner URL, the app's login URL or None, the login role or None)."""
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="nentang-graphql-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}", None, None
        return
    reason = postgres_unreachable(args.postgres_url)
    if reason:
        raise SystemExit(
            f"graphql: PostgreSQL at {args.postgres_url} is not usable ({reason}); --skip-postgres to skip"
        )
    with throwaway_login_role(args.postgres_url) as role, throwaway_postgres(args.postgres_url) as url:
        yield url, as_login(url, role), role


def member_of_app_role(owner_url: str, app_role: str, login: str) -> None:
    """Production's step 3 (docs/operations.md): the login role a member of the app role. The app
    role is made first if this cluster has none yet, as a DBA would (the migration then keeps it)."""
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role}).first()
            if exists is None:
                connection.execute(text(f'CREATE ROLE "{app_role}" NOLOGIN NOBYPASSRLS'))
            connection.execute(text(f'GRANT "{app_role}" TO "{login}"'))
    finally:
        engine.dispose()


def _reference(query: Query, status: int, body: bytes) -> bytes:
    answer = json.loads(body) if status == 200 else {}
    data = answer.get("data") or {}
    page = next(iter(data.values()), None) or {}
    items = page.get("items", page.get("edges", []))
    if status != 200 or "errors" in answer or len(items) != query.items:
        raise SystemExit(f"graphql: the floor's {query.name} reference is wrong (HTTP {status}): {body[:300]!r}")
    return body


def measure(args: argparse.Namespace, dialect: str, profiler: cProfile.Profile | None) -> Run:
    run = Run(dialect)
    configure_logging(json=True, level="WARNING")
    with database(args, dialect) as (url, login_url, role):
        limits = GraphQLSettings(max_page_size=max(args.list_items, 100), max_cost=200_000)
        settings = Settings(
            database_url=url,
            app_database_url=login_url,
            mode="development",
            log_json=True,
            log_level="WARNING",
            graphql=limits,
        )
        if role is not None:
            member_of_app_role(url, settings.app_role, role)
        kernel = create_kernel(settings)
        try:
            kernel.upgrade_database()
            reader_token, viewer_token, commune_id = seed(kernel)
            rows = Rows(login_url or url, commune_id)
            if rows.postgres and not rows.policies_apply():
                raise SystemExit(f"graphql: row-level security does not apply to the login role {role}")
            try:
                _measure(args, run, kernel, rows, reader_token, viewer_token, profiler)
            finally:
                rows.close()
        finally:
            kernel.close()
    run.notes.insert(
        0, f"login role {'of its own, member of ' + settings.app_role if role else '-'} ({url.split('/')[-1]})"
    )
    return run


def _measure(
    args: argparse.Namespace,
    run: Run,
    kernel: Kernel,
    rows: Rows,
    reader_token: str,
    viewer_token: str,
    profiler: cProfile.Profile | None,
) -> None:
    json_headers = {"content-type": "application/json"}
    ours = create_app(kernel)
    floor = Driver("floor", floor_app(rows, list_floor(rows)), "/feedback", json_headers)
    plain = Driver("strawberry", strawberry_app(rows), "/graphql", json_headers)
    ours_feedback = Driver("ours", ours, "/graphql", {**json_headers, "authorization": f"Bearer {reader_token}"})
    ours_list = Driver("ours", ours, "/graphql", {**json_headers, "authorization": f"Bearer {viewer_token}"})
    loop = asyncio.new_event_loop()
    probe = ReadProbe(threading.get_ident())
    try:
        with lifespan(ours, loop):
            for query in queries(args.list_items):
                ours_driver = ours_list if query.name == "list" else ours_feedback
                floor.path = query.floor_path
                body = json.dumps({"query": query.document}).encode()
                sent = {"floor": json.dumps(query.floor_body).encode(), "strawberry": body, "ours": body}
                loop.run_until_complete(ours_driver.post(body))  # fills the caches: the probe sees a warm request
                with probe.watching(query.table):
                    status, ours_first = loop.run_until_complete(ours_driver.post(body))
                if status != 200 or b'"errors"' in ours_first:
                    raise SystemExit(
                        f"graphql: ours failed the {query.name} query (HTTP {status}): {ours_first[:500]!r}"
                    )
                rows.access.hop = probe.hops
                run.notes.append(
                    f"{query.name}: ours read {probe.where()} -> the baselines read "
                    + ("each statement in a thread" if rows.access.hop else "on the event loop")
                )
                reference = _reference(query, *loop.run_until_complete(floor.post(sent["floor"])))
                if status != 200 or ours_first != reference:
                    raise SystemExit(
                        f"graphql: ours answered {query.name} other than the floor (HTTP {status}):\n"
                        f"  ours:  {ours_first[:300]!r}\n  floor: {reference[:300]!r}"
                    )
                status, plain_first = loop.run_until_complete(plain.post(body))
                if status != 200 or json.loads(plain_first) != json.loads(reference):
                    raise SystemExit(f"graphql: strawberry answered {query.name} differently: {plain_first[:300]!r}")
                drivers = {"floor": floor, "strawberry": plain, "ours": ours_driver}
                expected = {"floor": reference, "strawberry": plain_first, "ours": reference}
                requests = args.list_requests if query.name == "list" else args.requests
                warmup = max(args.warmup * requests // args.requests, 2)
                for stack, driver in drivers.items():
                    loop.run_until_complete(
                        driver.run(sent[stack], expected[stack], warmup, args.concurrency, query.name)
                    )
                rounds: dict[str, list[Figures]] = {stack: [] for stack in STACKS}
                for _ in range(args.rounds):
                    for stack, driver in drivers.items():
                        timed = driver.run(sent[stack], expected[stack], requests, args.concurrency, query.name)
                        rounds[stack].append(loop.run_until_complete(timed))
                for stack in STACKS:
                    run.figures[query.name, stack] = Figures(
                        rps=statistics.median(f.rps for f in rounds[stack]),
                        cpu_ms=statistics.median(f.cpu_ms for f in rounds[stack]),
                    )
                if profiler is not None and query.name == "small":
                    profiler.enable()
                    loop.run_until_complete(ours_driver.run(body, reference, args.requests, 1, "small"))
                    profiler.disable()
            run.queries = tuple(q.name for q in queries(args.list_items))
    finally:
        loop.close()
    run.checked = floor.checked + plain.checked + ours_feedback.checked + ours_list.checked
