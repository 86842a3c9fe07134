#!/usr/bin/env python3
"""Benchmark: provision the national tenant tree into an empty database, then one tenant more.

Run from the repository root (after ``python3 dev.py test`` or ``demo`` has made ``.venv/``)::

    .venv/bin/python bench/provision.py                       # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/provision.py --skip-postgres       # SQLite only
    .venv/bin/python bench/provision.py --postgres-url postgresql+psycopg://postgres@db:5432/postgres

What is measured, on SQLite (a new file in a temporary folder) and on PostgreSQL (a throwaway
database ``nentang_bench_<hex>`` created through ``--postgres-url`` and dropped at the end):

1. **tree** — open a kernel on the empty database, migrate it to head (``migrate.upgrade`` on the
   owner engine), seed 1 central + 34 provinces + 3,321 communes (``seed_national_tree``);
2. **new tenant** — ``kernel.tenants.create`` of a unit under a commune, then its first
   ``GET /t/<code>/`` through the real app in process (Starlette's ``TestClient``), on the full tree;
   repeated for ``--new-tenants`` units (each under a different commune); median and p95.

Every figure is printed with its ratio to a floor measured in the same run, on the same database
with the same engine settings, doing the least work that produces the same result:

- tree floor: create a bare table with the tenant table's columns (primary key only) and
  ``executemany`` INSERT the same 3,356 rows, paths precomputed, no audit — best of three;
- new-tenant floor: INSERT one row into that table (now indexed by code) and serve it through a
  one-route Starlette app that does a bare ``SELECT`` by code and returns it as JSON.

Targets (issue 2): the whole tree in <= 10 s on SQLite; a new tenant serving in <= 100 ms.
The last line is always ``provision: sqlite_s=<x> postgres_s=<y|skipped> new_tenant_ms=<z>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
import vietnam_provinces
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from vietnam_provinces import Province, Ward

from nentang.kernel.data.engines import create_owner_engine
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind
from nentang.kernel.tenancy.seed import CENTRAL_CODE, CENTRAL_NAME, commune_code, province_code, seed_national_tree

# bench/ is not a package, and the tests load this script by its path: _support is found through
# the script's own folder, whatever the working folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import percentile, postgres_unreachable, ratio, throwaway_postgres

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Issue 2's targets.
TREE_TARGET_S = 10.0
NEW_TENANT_TARGET_MS = 100.0
DEFAULT_NEW_TENANTS = 20
#: The tree floor is the best of this many runs (it is short, so one run is noisy).
FLOOR_REPEATS = 3
FLOOR_TABLE = "bench_floor_tenant"
ACTOR = Actor.system("bench")


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeTiming:
    open_s: float
    migrate_s: float
    seed_s: float
    tenants: int

    @property
    def total_s(self) -> float:
        return self.open_s + self.migrate_s + self.seed_s


@dataclass(frozen=True, slots=True)
class Samples:
    """Durations in milliseconds, in the order they were taken."""

    ms: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)


@dataclass(frozen=True, slots=True)
class DialectResult:
    dialect: str
    tree: TreeTiming
    tree_floor_s: float
    new_tenant: Samples
    new_tenant_floor: Samples


def format_last_line(sqlite_s: float, postgres_s: float | None, new_tenant_ms: float) -> str:
    """The summary line a script or CI can parse; ``postgres_s=None`` prints ``skipped``."""
    postgres = "skipped" if postgres_s is None else f"{postgres_s:.3f}"
    return f"provision: sqlite_s={sqlite_s:.3f} postgres_s={postgres} new_tenant_ms={new_tenant_ms:.3f}"


def report_lines(result: DialectResult) -> list[str]:
    tree, name = result.tree, result.dialect
    tree_met = "met" if tree.total_s <= TREE_TARGET_S else "NOT met"
    new = result.new_tenant
    new_met = "met" if new.median <= NEW_TENANT_TARGET_MS else "NOT met"
    p95_note = "p95 within it too" if new.p95 <= NEW_TENANT_TARGET_MS else "p95 above it"
    target_tree = f"target<={TREE_TARGET_S:g}s: {tree_met}" if name == "sqlite" else "target: none on postgres"
    return [
        f"{name} tree: total_s={tree.total_s:.3f} (open_s={tree.open_s:.3f} migrate_s={tree.migrate_s:.3f} "
        f"seed_s={tree.seed_s:.3f}) tenants={tree.tenants}",
        f"{name} tree: floor_s={result.tree_floor_s:.3f} (bare executemany INSERT of the same rows) "
        f"ratio={ratio(tree.total_s, result.tree_floor_s):.1f} {target_tree}",
        f"{name} new tenant: new_tenant_ms median={new.median:.3f} p95={new.p95:.3f} n={len(new.ms)} "
        f"(create a unit under a commune + first GET /t/<code>/ -> 200)",
        f"{name} new tenant: floor_ms median={result.new_tenant_floor.median:.3f} "
        f"p95={result.new_tenant_floor.p95:.3f} (bare INSERT + SELECT by code + minimal Starlette JSON) "
        f"ratio={ratio(new.median, result.new_tenant_floor.median):.1f} "
        f"target<={NEW_TENANT_TARGET_MS:g}ms: {new_met} ({p95_note})",
    ]


# -- the kernel's work -------------------------------------------------------------------------


def bench_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, mode="development", log_json=True, log_level="WARNING")


def provision_tree(settings: Settings) -> tuple[Kernel, TreeTiming]:
    """Open a kernel on an empty database, migrate it, seed the national tree; the caller closes it."""
    started = time.perf_counter()
    kernel = create_kernel(settings)
    try:
        opened = time.perf_counter()
        kernel.upgrade_database()
        migrated = time.perf_counter()
        result = seed_national_tree(kernel.db, kernel.tenants, kernel.audit, ACTOR)
        seeded = time.perf_counter()
        tenants = kernel.tenants.count()
        expected = 1 + result.provinces + result.communes
        if not result.created or tenants != expected:
            raise RuntimeError(f"seeding an empty database gave {tenants} tenants, expected {expected}")
    except BaseException:
        kernel.close()
        raise
    return kernel, TreeTiming(opened - started, migrated - opened, seeded - migrated, tenants)


def time_new_tenants(kernel: Kernel, count: int) -> Samples:
    """Create ``count`` units (each under another commune) and serve the first request of each."""
    communes = kernel.tenants.list(kind=TenantKind.COMMUNE, limit=count)
    samples = []
    with TestClient(create_app(kernel)) as client:
        _expect_ok(client.get(f"/t/{CENTRAL_CODE}/"), CENTRAL_CODE)  # the server is up before the unit exists
        for i, commune in enumerate(communes):
            code = f"bench-unit-{i:03d}"
            started = time.perf_counter()
            kernel.tenants.create(
                code=code, name=f"Đơn vị đo thử {i}", kind=TenantKind.UNIT, parent_code=commune.code, actor=ACTOR
            )
            response = client.get(f"/t/{code}/")
            samples.append((time.perf_counter() - started) * 1000)
            _expect_ok(response, code)
            if response.json()["tenant"]["code"] != code:
                raise RuntimeError(f"GET /t/{code}/ served another tenant: {response.text}")
    return Samples(tuple(samples))


def _expect_ok(response: Any, code: str) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"GET /t/{code}/ answered {response.status_code}, not 200: {response.text}")


# -- the floors ------------------------------------------------------------------------------


def national_rows() -> list[dict[str, Any]]:
    """The seed's 3,356 tenant rows with ids and paths precomputed (what the floor inserts)."""
    now = datetime.now(UTC)

    def row(id_: int, code: str, name: str, kind: str, division: str | None, parent: int | None, path: str) -> dict:
        depth = path.count("/") - 2
        return {
            "id": id_,
            "code": code,
            "name": name,
            "kind": kind,
            "division_type": division,
            "parent_id": parent,
            "path": path,
            "depth": depth,
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }

    rows = [row(1, CENTRAL_CODE, CENTRAL_NAME, "central", None, None, "/1/")]
    province_paths: dict[str, tuple[int, str]] = {}
    for province in sorted(Province.iter_all(), key=lambda p: int(p.code)):
        id_ = len(rows) + 1
        code = province_code(province)
        province_paths[code] = (id_, f"/1/{id_}/")
        rows.append(row(id_, code, province.name, "province", province.division_type.value, 1, f"/1/{id_}/"))
    for ward in sorted(Ward.iter_all(), key=lambda w: int(w.code)):
        id_ = len(rows) + 1
        parent_id, parent_path = province_paths[f"{int(ward.province_code):02d}"]
        path = f"{parent_path}{id_}/"
        rows.append(row(id_, commune_code(ward), ward.name, "commune", ward.division_type.value, parent_id, path))
    return rows


def floor_table(metadata: sa.MetaData, name: str) -> sa.Table:
    """The tenant table's columns, and nothing else: no foreign key, no index but the primary key."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("division_type", sa.String(64)),
        sa.Column("parent_id", sa.Integer),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def floor_tree(database_url: str, rows: list[dict[str, Any]]) -> tuple[float, sa.Table]:
    """Best of ``FLOOR_REPEATS``: engine, CREATE TABLE, one executemany INSERT, commit."""
    tables = [floor_table(sa.MetaData(), f"{FLOOR_TABLE}_{attempt}") for attempt in range(FLOOR_REPEATS)]
    timings = []
    for table in tables:
        started = time.perf_counter()
        engine = create_owner_engine(database_url)
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(table.insert(), rows)
        timings.append(time.perf_counter() - started)
        engine.dispose()
    return min(timings), tables[-1]


def floor_new_tenants(database_url: str, table: sa.Table, count: int) -> Samples:
    """INSERT one row, then serve it by code through a one-route Starlette app; ``count`` times."""
    engine = create_owner_engine(database_url)
    try:
        with engine.begin() as connection:
            sa.Index(f"ix_{table.name}_code", table.c.code, unique=True).create(connection)
            next_id = connection.scalar(sa.select(sa.func.max(table.c.id))) + 1
        by_code = sa.select(table.c.code, table.c.name, table.c.kind, table.c.depth).where(
            table.c.code == sa.bindparam("code")
        )

        def serve(request: Request) -> JSONResponse:  # sync: Starlette runs it in its threadpool
            with engine.connect() as connection:
                row = connection.execute(by_code, {"code": request.path_params["code"]}).mappings().first()
            return JSONResponse({"tenant": dict(row)} if row else {}, status_code=200 if row else 404)

        samples = []
        now = datetime.now(UTC)
        with TestClient(Starlette(routes=[Route("/t/{code}/", serve)])) as client:
            _expect_ok(client.get(f"/t/{CENTRAL_CODE}/"), CENTRAL_CODE)
            for i in range(count):
                code, id_ = f"floor-unit-{i:03d}", next_id + i
                values = {"id": id_, "code": code, "name": f"Đơn vị sàn {i}", "kind": "unit", "division_type": None}
                values |= {"parent_id": 1, "path": f"/1/{id_}/", "depth": 1, "status": "active"}
                values |= {"created_at": now, "updated_at": now}
                started = time.perf_counter()
                with engine.begin() as connection:
                    connection.execute(table.insert(), values)
                response = client.get(f"/t/{code}/")
                samples.append((time.perf_counter() - started) * 1000)
                _expect_ok(response, code)
        return Samples(tuple(samples))
    finally:
        engine.dispose()


# -- one database ----------------------------------------------------------------------------


def run_dialect(dialect: str, database_url: str, floor_url: str, new_tenants: int) -> DialectResult:
    kernel, tree = provision_tree(bench_settings(database_url))
    try:
        new_tenant = time_new_tenants(kernel, new_tenants)
    finally:
        kernel.close()
    tree_floor_s, table = floor_tree(floor_url, national_rows())
    new_tenant_floor = floor_new_tenants(floor_url, table, new_tenants)
    return DialectResult(dialect, tree, tree_floor_s, new_tenant, new_tenant_floor)


# -- entry point -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="provision.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="PostgreSQL server to benchmark on; used only to create and drop a database of its own "
        f"(default: {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="benchmark SQLite only")
    parser.add_argument(
        "--new-tenants",
        type=int,
        default=DEFAULT_NEW_TENANTS,
        help=f"how many new tenants to time (default: {DEFAULT_NEW_TENANTS})",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.new_tenants <= 1000:
        parser.error(f"--new-tenants must be between 1 and 1000, not {args.new_tenants}")
    if not args.skip_postgres and not args.postgres_url.startswith("postgresql"):
        parser.error(f"--postgres-url must be a postgresql:// URL, not {args.postgres_url!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    saved_logging = structlog.get_config()
    configure_logging(json=True, level="WARNING")  # one line per request would bury the figures
    try:
        return _run(args)
    finally:
        structlog.configure(**saved_logging)


def _run(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    say(
        f"provision: python {sys.version.split()[0]}, sqlalchemy {sa.__version__}, "
        f"vietnam-provinces {vietnam_provinces.__version__} (data {vietnam_provinces.__data_version__})"
    )
    with tempfile.TemporaryDirectory(prefix="nentang-bench-") as tmp:
        folder = Path(tmp)
        sqlite = run_dialect(
            "sqlite", f"sqlite:///{folder / 'nentang.db'}", f"sqlite:///{folder / 'floor.db'}", args.new_tenants
        )
    for line in report_lines(sqlite):
        say(line)

    postgres: DialectResult | None = None
    reason = "--skip-postgres" if args.skip_postgres else postgres_unreachable(args.postgres_url)
    if reason is None:
        with throwaway_postgres(args.postgres_url) as url:
            postgres = run_dialect("postgres", url, url, args.new_tenants)
        for line in report_lines(postgres):
            say(line)
    else:
        say(f"postgres: skipped ({reason})")

    say(format_last_line(sqlite.tree.total_s, postgres.tree.total_s if postgres else None, sqlite.new_tenant.median))
    return 0


if __name__ == "__main__":
    sys.exit(main())
