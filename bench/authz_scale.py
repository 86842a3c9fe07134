#!/usr/bin/env python3
"""Benchmark: authorisation at national scale — N role assignments over the national tree (issue 3).

Run from the repository root::

    .venv/bin/python bench/authz_scale.py                  # SQLite, N = 2,000,000
    .venv/bin/python bench/authz_scale.py --quick          # N = 200,000 (and 50,000 warm principals)
    .venv/bin/python bench/authz_scale.py --postgres       # a throwaway database on --postgres-url

Setup (timed, but no target): a child process migrates an empty database, seeds the national tree
(1 central + 34 provinces + 3,321 communes), bulk-inserts N users (80 % at communes, 17 % at provinces,
3 % central) and one grant each (templates viewer/auditor/admin, and two custom roles per province,
"clerk" and "hr", created through the delegated path by the central administrator, user 1).

Then this process is ONE worker, and measures:

1. **ready** — ``create_kernel`` + ``start()``; floor: create an engine and run ``SELECT 1``.
2. **memory** — RSS (``/proc/self/status``) before the kernel is created, and after a first check for
   ``--warm`` distinct principals has filled the per-principal grant cache; floor: a plain dict of the
   same principals' grants (``sys.getsizeof``, summed). No tracemalloc anywhere.
3. **checks** (warm) — median and p99 of ``authz.check`` for ALLOWED and DENIED cases with grants at
   commune, province and central level, each call timed with ``perf_counter_ns`` minus the timer's own
   median cost measured in the same run; floor: ``perm in table[(principal, tenant)]`` over precomputed
   frozensets. The warm-up's first checks (a cache miss: one indexed query) are the **cold** figures;
   their floor is the same query through a bare DB-API cursor.
4. **grant** — ``authz.grant`` by the administrator, one transaction each, committed; floor: a bare
   INSERT + COMMIT of one row into a table with ``kernel_grant``'s columns and indexes.
5. **propagation** — a second worker *process* (its own kernel, started) arms a check, the parent grants
   (then revokes) and commits, the child spins on the check and reports ``time.monotonic()`` (one clock
   for the whole machine) when the answer flips; measured from just before COMMIT. Floor: a bare child
   that polls a one-row version table at the kernel's poll interval (SQLite) or LISTENs on a bare
   connection (PostgreSQL).
6. **stock pycasbin** — a standard ``casbin.Enforcer`` (RBAC with domains, file adapter) loaded with the
   same assignments, N = 10k, 50k, ... until a load exceeds ``--stock-budget-s`` (each in a child that is
   killed at the budget) or its memory would pass a limit; check p50 at the largest N loaded.

Targets (issue 3, at 2,000,000 assignments): ready <= 5 s, memory <= 300 MB, check median <= 50 us and
p99 <= 1 ms (warm), grant <= 20 ms, propagation <= 1 s. The last line is always
``authz: n=<N> ready_s=<x> mem_mb=<x> p50_us=<x> p99_us=<x> grant_ms=<x> propagate_ms=<x> stock_n=<N>
stock_p50_us=<x>`` (on one line; p50/p99 over all warm checks; propagate_ms is the maximum).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa
import structlog

from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS
from nentang.kernel.observability.logging import configure_logging

# bench/ is not a package, and the tests load this script by its path: its siblings (``_authz_*.py``,
# ``_support.py``; they import one another the same way) are found through its own folder, whatever
# the working folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _authz_children import CHILD_FLAG, Child, emit, run_floor_worker, run_stock, run_worker
from _authz_measure import Figures, measure_worker, run_stock_ladder
from _authz_plan import _permissions_at, make_plan
from _authz_population import (
    CUSTOM_ROLES,
    SEED,
    Population,
    RoleInfo,
    Tree,
    assign,
    build_database,
    stride_order,
)
from _authz_report import DEFAULT_N, Say, format_last_line, setup_line, summary_lines
from _support import percentile, postgres_unreachable, throwaway_postgres

#: What the tests and readers reach through this module (the pieces live in the siblings).
__all__ = [
    "CUSTOM_ROLES",
    "KERNEL_PERMISSIONS",
    "Population",
    "RoleInfo",
    "Tree",
    "_permissions_at",
    "assign",
    "format_last_line",
    "main",
    "make_plan",
    "percentile",
    "stride_order",
]

QUICK_N = 200_000
#: Distinct principals whose first check fills the grant cache (one cache miss each, one at a time).
DEFAULT_WARM = 100_000
QUICK_WARM = 50_000
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def child_main(argv: Sequence[str]) -> int:
    configure_logging(json=True, level="WARNING")
    kind, *rest = argv
    if kind == "build":
        emit(build_database(rest[0], int(rest[1]), Path(rest[2])))
    elif kind == "worker":
        run_worker(rest[0])
    elif kind == "floor-worker":
        run_floor_worker(rest[0])
    elif kind == "stock":
        run_stock(Path(rest[0]), int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown child kind {kind!r}")
    return 0


@contextmanager
def database(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    if not args.postgres:
        yield f"sqlite:///{folder / 'authz.db'}"
        return
    reason = postgres_unreachable(args.postgres_url)
    if reason is not None:
        raise SystemExit(f"authz: PostgreSQL at {args.postgres_url} is not usable: {reason}")
    with throwaway_postgres(args.postgres_url) as url:
        yield url


def run(args: argparse.Namespace, say: Say) -> Figures:
    figures = Figures(n=args.n, dialect="postgres" if args.postgres else "sqlite")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nentang-authz-bench-") as tmp:
        folder = Path(tmp)
        with database(args, folder) as url:
            builder = Child("build", [url, str(args.n), str(folder)], folder)
            try:
                figures.build = builder.receive(timeout=3600)
            finally:
                builder.close()
            say(setup_line(figures))
            figures.wall["setup"] = time.monotonic() - started
            pop = Population.load(folder)
            plan = make_plan(pop, args.checks, args.warm, args.grants, args.rounds, random.Random(SEED + 1))
            measure_worker(url, pop, plan, figures, folder, say)
        figures.wall["worker"] = time.monotonic() - started - figures.wall["setup"]
        figures.stock, figures.stock_stop = run_stock_ladder(
            folder, args.n, args.stock_budget_s, args.stock_sample, say
        )
    figures.wall["total"] = time.monotonic() - started
    figures.wall["stock"] = figures.wall["total"] - figures.wall["setup"] - figures.wall["worker"]
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="authz_scale.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, help=f"role assignments (users) to build (default: {DEFAULT_N})")
    parser.add_argument("--quick", action="store_true", help=f"n={QUICK_N}, {QUICK_WARM} warm principals")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary folder (the default)")
    where.add_argument("--postgres", action="store_true", help="a throwaway database on --postgres-url")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"PostgreSQL server, used only to create and drop a database of its own (default: {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--stock-budget-s", type=float, default=120.0, help="stock pycasbin load budget (default: 120)")
    parser.add_argument("--checks", type=int, default=20_000, help="timed checks per level and case (default: 20000)")
    parser.add_argument(
        "--warm",
        type=int,
        help=f"distinct principals warmed (default: {DEFAULT_WARM}; {QUICK_WARM} with --quick)",
    )
    parser.add_argument("--grants", type=int, default=200, help="grants timed (default: 200)")
    parser.add_argument("--rounds", type=int, default=20, help="grant-then-revoke propagation rounds (default: 20)")
    parser.add_argument("--stock-sample", type=int, default=1000, help="stock checks timed (default: 1000)")
    args = parser.parse_args(argv)
    if args.quick and args.n is not None:
        parser.error("--quick sets --n; give one or the other")
    args.n = QUICK_N if args.quick else (args.n or DEFAULT_N)
    if args.warm is None:
        args.warm = QUICK_WARM if args.quick else DEFAULT_WARM
    if args.n < 1000:
        parser.error(f"--n must be at least 1000, not {args.n}")
    for name in ("checks", "warm", "grants", "rounds", "stock_sample"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.stock_budget_s <= 0:
        parser.error("--stock-budget-s must be positive")
    if args.postgres and not args.postgres_url.startswith("postgresql"):
        parser.error(f"--postgres-url must be a postgresql:// URL, not {args.postgres_url!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [CHILD_FLAG]:
        return child_main(argv[1:])
    args = parse_args(argv)
    saved_logging = structlog.get_config()
    configure_logging(json=True, level="WARNING")
    try:

        def say(line: str) -> None:
            print(line, flush=True)

        say(
            f"authz: python {sys.version.split()[0]}, sqlalchemy {sa.__version__}, pycasbin {version('pycasbin')}, "
            f"{'postgres' if args.postgres else 'sqlite'}, n={args.n}, {os.cpu_count()} cpus "
            f"(load average {os.getloadavg()[0]:.1f}); warm principals {args.warm}, {args.checks} checks per case, "
            f"{args.grants} grants, {args.rounds} rounds"
        )
        figures = run(args, say)
        for line in summary_lines(figures, args.stock_budget_s):
            say(line)
    finally:
        structlog.configure(**saved_logging)
    return 0


if __name__ == "__main__":
    sys.exit(main())
