#!/usr/bin/env python3
"""Benchmark: our GraphQL stack against strawberry with its caches and a raw Starlette floor (issue 14).

Run from the repository root::

    .venv/bin/python bench/graphql_bench.py            # SQLite, then a throwaway PostgreSQL database
    .venv/bin/python bench/graphql_bench.py --quick    # smoke sizes (seconds, figures meaningless)
    .venv/bin/python bench/graphql_bench.py --profile  # and where our small query's time goes

Baselines (the same rows, the same statements run where ours runs them, the same JSON):

- floor: a plain Starlette endpoint building the same JSON by hand, byte-identical to ours (asserted).
- strawberry: the same schema, ParserCache and ValidationCache on, a DataLoader for parent; equal JSON (asserted).

Both read with SQLAlchemy Core the way ours reads (``_graphql_stacks.py``): on PostgreSQL through the
same login role as ours (a ``LOGIN NOBYPASSRLS`` member of the app role, row-level security checked
to be in force) with the tenant set in the read's transaction; on SQLite on a kept connection per
thread. Each statement runs on the event loop when ours ran its reads there, else in a thread and
back (``run_in_executor``): a probe records, per query, where a warm request of ours ran them.

Three queries over the ``feedback`` plugin's 1,000 rows and the seeded national tree: **small** —
``feedback_items(first: 1)`` with five fields; **page** — ``feedback_items(first: 100)``, three
fields per item; **list** — ``tenants(first: 1000, parent: "TW", subtree: true)``, ten fields per
item, one of them the resolver field ``parent { code }`` (``_graphql_lists.py``). Each database has
its own run of all three stacks; PostgreSQL is a throwaway database and login role.

Every timed response is checked (HTTP 200 and the body byte for byte the reference: no ``errors``,
the reference's data); one wrong answer fails the run. The stacks are driven in-process over ASGI,
``--concurrency`` requests in flight, taking turns for ``--rounds`` rounds of ``--requests``; a figure
is the median over rounds of CPU ms per request (``time.process_time``: every thread of the
process, so hops count and time spent descheduled on a busy machine does not).

Ratios, of CPU per request: ``ours_vs_strawberry`` = strawberry / ours (higher is better),
``ours_vs_floor`` = ours / floor (lower is better). Targets (issue 14): small query >= 2 x
strawberry and <= 2 x the floor on both databases; list <= 2.5 x the floor and >= 5 x strawberry.
The last line is ``graphql: floor_cpu_ms= strawberry_cpu_ms= ours_cpu_ms= ours_vs_strawberry=
ours_vs_floor= pg_ours_vs_strawberry= pg_ours_vs_floor= list_ours_vs_floor= list_ours_vs_strawberry=
checked=`` (the first five of SQLite's small query, the list's of SQLite; ``checked`` counts the
answers compared with their reference, warm-up and timed, on both databases).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graphql_drive import Figures
from _graphql_run import STACKS, Run, measure

TARGETS = {"small": (2.0, 2.0), "list": (5.0, 2.5)}  # query -> (x strawberry at least, x floor at most)


def vs(run: Run, query: str) -> tuple[float, float]:
    """(strawberry / ours, ours / floor), of CPU per request."""
    floor, plain, ours = (run.figures[query, stack].cpu_ms for stack in STACKS)
    return plain / ours, ours / floor


def report(runs: list[Run], checked: int) -> list[str]:
    lines = []
    for run in runs:
        for name in run.queries:
            figures: dict[str, Figures] = {s: run.figures[name, s] for s in STACKS}
            plain_x, floor_x = vs(run, name)
            lines.append(
                f"{run.dialect} {name}: "
                + " ".join(f"{s}_rps={f.rps:.4g} {s}_cpu_ms={f.cpu_ms:.3f}" for s, f in figures.items())
                + f" ours_vs_strawberry={plain_x:.2f} ours_vs_floor={floor_x:.2f}"
            )
    for run in runs:
        for name, (plain_min, floor_max) in TARGETS.items():
            plain_x, floor_x = vs(run, name)
            for what, value, ok in (
                (f"ours >= {plain_min:g} x strawberry", plain_x, plain_x >= plain_min),
                (f"ours <= {floor_max:g} x floor", floor_x, floor_x <= floor_max),
            ):
                lines.append(f"target {run.dialect} {name}: {what}: {value:.2f} -> {'met' if ok else 'missed'}")
    sqlite = runs[0]
    pg = runs[1] if len(runs) > 1 else None
    floor, plain, ours = (sqlite.figures["small", s].cpu_ms for s in STACKS)
    small_plain, small_floor = vs(sqlite, "small")
    list_plain, list_floor = vs(sqlite, "list")
    pg_plain, pg_floor = (f"{v:.2f}" for v in vs(pg, "small")) if pg else ("skipped", "skipped")
    lines.append(
        f"graphql: floor_cpu_ms={floor:.3f} strawberry_cpu_ms={plain:.3f} ours_cpu_ms={ours:.3f} "
        f"ours_vs_strawberry={small_plain:.2f} ours_vs_floor={small_floor:.2f} "
        f"pg_ours_vs_strawberry={pg_plain} pg_ours_vs_floor={pg_floor} "
        f"list_ours_vs_floor={list_floor:.2f} list_ours_vs_strawberry={list_plain:.2f} checked={checked}"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes: a few requests, a 50-item list")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only (the PostgreSQL figures say skipped)")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=1_000, help="requests per round and stack")
    parser.add_argument("--list-requests", type=int, default=40, help="requests per round and stack, list query")
    parser.add_argument("--list-items", type=int, default=1_000, help="items of the list query")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--profile", action="store_true", help="profile our stack on the small query (SQLite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.list_requests, args.list_items, args.rounds, args.warmup = 20, 4, 50, 1, 5
    profiler = cProfile.Profile() if args.profile else None
    runs = [measure(args, "sqlite", profiler)]
    if not args.skip_postgres:
        runs.append(measure(args, "postgresql", None))
    print(
        f"setup: {', '.join(r.dialect for r in runs)}; {args.rounds} rounds x {args.requests} requests "
        f"(list: {args.list_requests} x {args.list_items} items), concurrency {args.concurrency}"
    )
    for run in runs:
        for line in run.notes:
            print(f"{run.dialect}: {line}")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        print(out.getvalue())
    for line in report(runs, sum(r.checked for r in runs)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
