#!/usr/bin/env python3
"""Benchmark: authorisation at national scale — N principals over the national tree, working sets of
100,000, 400,000 and 2,000,000 distinct active principals (issues 3 and 14).

Run from the repository root::

    .venv/bin/python bench/authz_scale.py                  # N = 2,000,000 on SQLite, then on PostgreSQL
    .venv/bin/python bench/authz_scale.py --quick          # N = 200,000, sets of 10k, 40k and 200k
    .venv/bin/python bench/authz_scale.py --no-postgres    # SQLite only (pg_* figures are nan)

Setup (timed, no target), per database: a child migrates an empty database (SQLite in a temporary
folder; a throwaway database on --postgres-url), seeds the national tree (1 + 34 + 3,321 tenants), and
bulk-inserts N users (80 % at communes, 17 % at provinces, 3 % central) with one grant each (templates
viewer/auditor/admin; custom "clerk" and "hr" per province, made through the delegated path).

Then ONE worker per database — a child process of its own, so that its RSS is its own — measures:

1. **ready** — ``create_kernel`` + ``start()``, which reads every grant into the compact table.
2. **working sets** — for W = each --active size (ascending; the first W of one scrambled order, so
   uniform over the population): the first check of every principal new to the set (**cold**), then
   --checks checks of principals drawn uniformly from all W (**warm**). Each call is half allowed
   (a permission of the user's role, at its tenant or below), half denied (beside its subtree, or a
   permission its role lacks); every answer is compared with the population's (a wrong one fails the run).
3. **memory** — RSS over the process's RSS before ``create_kernel``, after the largest set was active,
   divided by the principals the table holds (every principal of the database, checked by count).
4. **miss path** — 2,000 principals marked stale (as a change notification marks them), then checked.
5. **grant** and **propagation** (a second worker process sees a grant, then its revoke), as in issue 3.

Baselines (one line each; every one answers the same calls, verified):
- check floor: ``permission in table[(principal, tenant)]`` over frozensets precomputed per call.
- miss floor: the miss's SELECT through a bare DB-API cursor on an open connection.
- ready floor: a new engine and ``SELECT 1``.
- grant floor: a bare INSERT + COMMIT of one row into a table with kernel_grant's columns and indexes.
- propagation floor: a bare child that LISTENs (PostgreSQL) or polls one row at the kernel's interval (SQLite).
- stock pycasbin (2.8, no CachedEnforcer in it: the role manager it caches per domain is its cache)
  asked our question — roles inherited down the tenant path, as key_match domains over tenant paths —
  on the same assignments and calls; N = 10k, 50k, ... until a child passes --stock-budget-s or 4 GB.

Targets at n = active = 2,000,000 (issue 14): ready <= 5 s, memory <= 300 MB, check p50 <= 50 us and
p99 <= 1 ms, on both databases (p50/p99: the larger of the cold and warm figures at the largest set);
grant <= 20 ms, propagation <= 1 s (issue 3). The last line is always ``authz: n=<N> active=<N>
ready_s=<x> mem_mb=<x> p50_us=<x> p99_us=<x> pg_p50_us=<x> pg_p99_us=<x> grant_ms=<x> propagate_ms=<x>
stock_p50_us=<x>`` (one line; ready, memory, grant and propagation: the worse database; stock: warm p50
at the largest N it loaded).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS
from nentang.kernel.observability.logging import configure_logging

# bench/ is not a package, and the tests load this script by its path: its siblings (``_authz_*.py``,
# ``_support.py``; they import one another the same way) are found through its own folder, whatever
# the working folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import json

from _authz_children import CHILD_FLAG, Child, emit, run_floor_worker, run_worker
from _authz_measure import Figures, measure_worker
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
from _authz_report import DEFAULT_N, format_last_line, setup_line, summary_lines
from _authz_sets import Stride, make_calls, verify
from _authz_stock import run_stock, run_stock_ladder
from _support import percentile, postgres_unreachable, throwaway_postgres

#: What the tests and readers reach through this module (the pieces live in the siblings).
__all__ = [
    "CUSTOM_ROLES",
    "KERNEL_PERMISSIONS",
    "Population",
    "RoleInfo",
    "Stride",
    "Tree",
    "_permissions_at",
    "assign",
    "format_last_line",
    "main",
    "make_calls",
    "make_plan",
    "percentile",
    "stride_order",
    "verify",
]

QUICK_N = 200_000
DEFAULT_ACTIVE = (100_000, 400_000, 2_000_000)
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def child_main(argv: Sequence[str]) -> int:
    configure_logging(json=True, level="WARNING")
    kind, *rest = argv
    if kind == "build":
        emit(build_database(rest[0], int(rest[1]), Path(rest[2])))
    elif kind == "measure":
        run_measure(rest[0], Path(rest[1]), json.loads(rest[2]))
    elif kind == "worker":
        run_worker(rest[0])
    elif kind == "floor-worker":
        run_floor_worker(rest[0])
    elif kind == "stock":
        run_stock(Path(rest[0]), int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown child kind {kind!r}")
    return 0


def run_measure(url: str, folder: Path, options: dict[str, Any]) -> None:
    """The worker under test, in a process of its own: its lines, then its figures."""
    pop = Population.load(folder)
    plan = make_plan(pop, options["grants"], options["rounds"], random.Random(SEED + 1))
    figures = Figures(n=pop.n, dialect=options["dialect"], sizes=tuple(options["active"]))
    measure_worker(url, pop, plan, figures, folder, lambda line: emit({"say": line}), options["checks"])
    emit({"figures": figures.last()})


@contextmanager
def database(dialect: str, args: argparse.Namespace, folder: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'authz.db'}"
        return
    with throwaway_postgres(args.postgres_url) as url:
        yield url


def run_one(dialect: str, args: argparse.Namespace, folder: Path, say: Callable[[str], None]) -> dict[str, float]:
    with database(dialect, args, folder) as url:
        started = time.monotonic()
        builder = Child("build", [url, str(args.n), str(folder)], folder)
        try:
            build = builder.receive(timeout=3600)
        finally:
            builder.close()
        say(f"{dialect} " + setup_line(args.n, build))
        options = {"dialect": dialect, "active": args.active, "checks": args.checks}
        options |= {"grants": args.grants, "rounds": args.rounds}
        worker = Child("measure", [url, str(folder), json.dumps(options)], folder)
        try:
            while "figures" not in (message := worker.receive(timeout=3600)):
                say(message["say"])
        finally:
            worker.close()
        say(f"{dialect} wall: {time.monotonic() - started:.0f} s (setup and worker)")
        figures: dict[str, float] = message["figures"]
        return figures


def run(args: argparse.Namespace, say: Callable[[str], None]) -> list[str]:
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="nentang-authz-bench-") as tmp:
        folder = Path(tmp)
        runs["sqlite"] = run_one("sqlite", args, folder, say)
        stock, stop = run_stock_ladder(folder, args.n, args.stock_budget_s, args.stock_sample, say)
        if args.postgres:
            runs["postgres"] = run_one("postgres", args, folder, say)
    return summary_lines(args.n, runs, stock, stop)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="authz_scale.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, help=f"principals (users, one grant each) to build (default: {DEFAULT_N})")
    parser.add_argument("--quick", action="store_true", help=f"n={QUICK_N}, active sets scaled to it")
    parser.add_argument(
        "--active",
        help="working-set sizes, comma-separated, ascending, at most n (default: 100000,400000,2000000; with "
        "--quick or a smaller n: the same fractions of n)",
    )
    parser.add_argument("--no-postgres", dest="postgres", action="store_false", help="SQLite only")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"PostgreSQL server, used only to create and drop a database of its own (default: {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--stock-budget-s", type=float, default=120.0, help="stock pycasbin budget (default: 120)")
    parser.add_argument("--checks", type=int, default=200_000, help="warm checks per working set (default: 200000)")
    parser.add_argument("--grants", type=int, default=200, help="grants timed (default: 200)")
    parser.add_argument("--rounds", type=int, default=20, help="grant-then-revoke propagation rounds (default: 20)")
    parser.add_argument("--stock-sample", type=int, default=1000, help="stock checks timed (default: 1000)")
    args = parser.parse_args(argv)
    if args.quick and args.n is not None:
        parser.error("--quick sets --n; give one or the other")
    args.n = QUICK_N if args.quick else (args.n or DEFAULT_N)
    if args.n < 1000:
        parser.error(f"--n must be at least 1000, not {args.n}")
    try:
        active = [int(a) for a in args.active.split(",")] if args.active else None
    except ValueError:
        parser.error(f"--active must be comma-separated whole numbers, not {args.active!r}")
    if active is None:
        active = [round(args.n * a / DEFAULT_N) for a in DEFAULT_ACTIVE]
    if any(a < 1 or a > args.n for a in active) or active != sorted(set(active)):
        parser.error(f"--active sizes must be ascending, distinct, between 1 and n={args.n}: {active}")
    args.active = active
    for name in ("checks", "grants", "rounds", "stock_sample"):
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
    if args.postgres and (reason := postgres_unreachable(args.postgres_url)) is not None:
        raise SystemExit(f"authz: PostgreSQL at {args.postgres_url} is not usable: {reason} (or run --no-postgres)")
    saved_logging = structlog.get_config()
    configure_logging(json=True, level="WARNING")
    try:

        def say(line: str) -> None:
            print(line, flush=True)

        say(
            f"authz: python {sys.version.split()[0]}, sqlalchemy {sa.__version__}, pycasbin {version('pycasbin')}, "
            f"{'sqlite + postgres' if args.postgres else 'sqlite'}, n={args.n}, active={args.active}, "
            f"{os.cpu_count()} cpus (load average {os.getloadavg()[0]:.1f}); {args.checks} warm checks per set, "
            f"{args.grants} grants, {args.rounds} rounds"
        )
        started = time.monotonic()
        lines = run(args, say)
        say(f"wall: {time.monotonic() - started:.0f} s; load average now {os.getloadavg()[0]:.1f}")
        for line in lines:
            say(line)
    finally:
        structlog.configure(**saved_logging)
    return 0


if __name__ == "__main__":
    sys.exit(main())
