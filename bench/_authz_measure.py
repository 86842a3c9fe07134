"""bench/authz_scale.py, the measurements: the worker under test (a child process per database) and each
figure's floor."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from nentang.kernel.authz.permissions import AUDIT_READ
from nentang.kernel.data.engines import create_app_engine, create_owner_engine
from nentang.kernel.runtime import Kernel, create_kernel

from _authz_children import POLL_INTERVAL_S, WATCH_TIMEOUT_S, Child
from _authz_plan import Call, Plan, _principal
from _authz_population import ADMIN, SEED, Population, bench_settings
from _authz_report import Say, grant_line, memory_line, miss_line, propagation_line, ready_line, set_line
from _authz_sets import SetFigures, Summary, measure_sets, time_misses
from _support import percentile, settled_rss_mb, timer_overhead_ns

#: Principals checked through the miss path (and through the floor's bare cursor).
MISSES = 2000


@dataclass(frozen=True, slots=True)
class Dist:
    """Durations in one unit, with the floor's durations in the same unit."""

    values: tuple[float, ...]
    floor: tuple[float, ...] = ()

    @property
    def p50(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def p99(self) -> float:
        return percentile(self.values, 99) if self.values else math.nan

    @property
    def p95(self) -> float:
        return percentile(self.values, 95) if self.values else math.nan

    @property
    def max(self) -> float:
        return max(self.values) if self.values else math.nan

    @property
    def floor_p50(self) -> float:
        return statistics.median(self.floor) if self.floor else math.nan

    @property
    def floor_p99(self) -> float:
        return percentile(self.floor, 99) if self.floor else math.nan

    @property
    def floor_max(self) -> float:
        return max(self.floor) if self.floor else math.nan


@dataclass(slots=True)
class Figures:
    """One worker's figures on one database (measured in a child process of its own)."""

    n: int
    dialect: str
    sizes: tuple[int, ...]
    ready_s: float = math.nan
    ready_floor_s: float = math.nan
    build_s: float = math.nan
    rss_before_mb: float = math.nan
    rss_ready_mb: float = math.nan
    table_bytes: int = 0
    held: int = 0
    sets: list[SetFigures] = field(default_factory=list)
    miss: Summary = field(default_factory=lambda: Summary(0, math.nan, math.nan))
    grant: Dist = Dist(())
    grant_cpu: Dist = Dist(())
    propagation: Dist = Dist(())

    @property
    def mem_mb(self) -> float:
        """RSS over the process's before the kernel was made, at the largest working set."""
        return max(s.rss_mb for s in self.sets) if self.sets else math.nan

    @property
    def largest(self) -> SetFigures | None:
        return self.sets[-1] if self.sets else None

    def last(self) -> dict[str, float]:
        """What the parent needs for the targets and the last line."""
        top = self.largest
        return {
            "ready_s": self.ready_s,
            "mem_mb": self.mem_mb,
            "active": top.active if top else 0,
            "p50_us": max(top.cold.p50, top.warm.p50) if top else math.nan,
            "p99_us": max(top.cold.p99, top.warm.p99) if top else math.nan,
            "grant_ms": self.grant.p50,
            "propagate_ms": self.propagation.max,
            "held": self.held,
            "checked": sum(s.checked for s in self.sets) + self.miss.n,
        }


def measure_worker(url: str, pop: Population, plan: Plan, figures: Figures, folder: Path, say: Say, warm: int) -> None:
    figures.ready_floor_s = floor_ready(url)
    figures.rss_before_mb = settled_rss_mb()
    started = time.perf_counter()
    kernel = create_kernel(bench_settings(url))
    try:
        kernel.start()  # loads every principal's grants: the worker is ready when the table is
        figures.ready_s = time.perf_counter() - started
        figures.rss_ready_mb = settled_rss_mb()
        store = kernel.authz.grants
        table = store.table
        if table is None:
            raise RuntimeError("the kernel started without its grant table")
        figures.build_s, figures.table_bytes, figures.held = store.last_build_s, table.nbytes(), table.principals()
        if figures.held != pop.n:
            raise RuntimeError(f"the grant table holds {figures.held} principals, the database {pop.n}")
        say(ready_line(figures))
        overhead = timer_overhead_ns()
        rng = random.Random(SEED + 4)
        figures.sets = measure_sets(kernel.authz.check, pop, figures.sizes, warm, rng, overhead, figures.rss_before_mb)
        for result in figures.sets:
            say(set_line(figures, result))
        say(memory_line(figures))
        misses = list(range(1, min(pop.n, MISSES + 1)))  # users 2..: marked stale, checked, read again
        figures.miss = time_misses(kernel.authz.check, store.evict, pop, misses, rng, overhead)
        say(f"{figures.dialect} " + miss_line(figures.miss, Summary.of(floor_cold(url, pop, misses))))
        worker = Child("worker", [url], folder)
        try:
            worker.receive(timeout=120)
            figures.grant, figures.grant_cpu = time_grants(kernel, pop, plan.grantees, url)
            say(f"{figures.dialect} " + grant_line(figures.grant, figures.grant_cpu))
            propagation = time_propagation(kernel, pop, plan.watched, worker, _phase(figures))
        finally:
            worker.close()
        figures.propagation = Dist(propagation, floor_propagation(url, len(plan.watched), folder, _phase(figures)))
        say(f"{figures.dialect} " + propagation_line(figures.propagation, figures.dialect))
    finally:
        kernel.close()


def _phase(figures: Figures) -> random.Random | None:
    return random.Random(SEED + 2) if figures.dialect == "sqlite" else None


def time_grants(kernel: Kernel, pop: Population, users: Sequence[int], url: str) -> tuple[Dist, Dist]:
    """``authz.grant`` of "auditor" at each user's commune, by the central administrator, one
    committed transaction each; floor: a bare INSERT + COMMIT into a table shaped like kernel_grant.
    Also returns this thread's CPU time per grant (the rest of the wall time is spent off this thread's CPU)."""
    samples, cpu = [], []
    for index in users:
        started, started_cpu = time.perf_counter(), time.thread_time()
        with kernel.db.platform() as session, session.begin():
            kernel.authz.grant(
                session, actor=ADMIN, principal=_principal(index), role="auditor", tenant_id=pop.home[index]
            )
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    floor = floor_grants(url, [(_principal(i), pop.home[i]) for i in users])
    return Dist(tuple(samples), floor), Dist(tuple(cpu))


def time_propagation(
    kernel: Kernel, pop: Population, users: Sequence[int], worker: Child, rng: random.Random | None
) -> tuple[float, ...]:
    """For each user: grant "auditor" (AUDIT_READ appears), then revoke it (it disappears), each seen by
    the other worker; milliseconds from just before COMMIT to the first check there that saw it."""
    samples = []
    for index in users:
        principal, tenant = _principal(index), pop.home[index]
        made: list[int] = []

        def grant(session: Session, principal: str = principal, tenant: int = tenant, made: list[int] = made) -> None:
            row = kernel.authz.grant(session, actor=ADMIN, principal=principal, role="auditor", tenant_id=tenant)
            made.append(row.id or 0)

        def revoke(session: Session, made: list[int] = made) -> None:
            kernel.authz.revoke(session, actor=ADMIN, grant_id=made[0])

        samples.append(_propagate(kernel, worker, (principal, tenant, AUDIT_READ), True, grant, rng))
        samples.append(_propagate(kernel, worker, (principal, tenant, AUDIT_READ), False, revoke, rng))
    return tuple(samples)


def unlock_phase(rng: random.Random | None) -> None:
    """Where the other process polls (SQLite), wait a random part of a poll interval, so that changes
    are not phase-locked to its poll (it reports just after a poll; the next change would follow at once)."""
    if rng is not None:
        time.sleep(rng.uniform(0, POLL_INTERVAL_S))


def _propagate(
    kernel: Kernel,
    worker: Child,
    call: Call,
    expect: bool,
    change: Callable[[Session], None],
    rng: random.Random | None,
) -> float:
    principal, tenant, permission = call
    worker.send({"principal": principal, "tenant": tenant, "permission": permission, "expect": expect})
    if worker.receive(timeout=60)["armed"] == expect:
        raise RuntimeError(f"the second worker saw {call} == {expect} before the change was made")
    unlock_phase(rng)
    with kernel.db.platform() as session, session.begin():
        change(session)
        committing = time.monotonic()  # the block's exit commits
    seen = worker.receive(timeout=WATCH_TIMEOUT_S + 60)["seen"]
    return math.inf if seen is None else (seen - committing) * 1000


def floor_ready(url: str) -> float:
    """Best of three: create an engine (the kernel's own factory) and run ``SELECT 1``."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        engine = create_owner_engine(url)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        timings.append(time.perf_counter() - started)
        engine.dispose()
    return min(timings)


def floor_cold(url: str, pop: Population, users: Sequence[int]) -> tuple[float, ...]:
    """The miss's query through a bare DB-API cursor on an open connection, in µs: as the same login
    role under the same row-level security as the kernel's (PostgreSQL), in autocommit as the kernel's."""
    settings = bench_settings(url)
    engine = create_app_engine(url, settings.app_database_url, settings.app_role)
    try:
        raw = engine.raw_connection()
        try:
            if engine.dialect.name == "postgresql":
                raw.dbapi_connection.autocommit = True
            cursor = raw.cursor()
            mark = "?" if engine.dialect.name == "sqlite" else "%s"
            query = f"SELECT tenant_id, role_id FROM kernel_grant WHERE principal = {mark}"
            overhead = timer_overhead_ns()
            ns = time.perf_counter_ns
            samples = []
            for index in users:
                principal = _principal(index)
                t0 = ns()
                cursor.execute(query, (principal,))
                cursor.fetchall()
                t1 = ns()
                samples.append(max(t1 - t0 - overhead, 0) / 1000)
            raw.rollback()
            return tuple(samples)
        finally:
            raw.close()
    finally:
        engine.dispose()


def floor_grants(url: str, grants: Sequence[tuple[str, int]]) -> tuple[float, ...]:
    """INSERT + COMMIT of one row, in ms, into a table with kernel_grant's columns and indexes (no FK)."""
    metadata = sa.MetaData()
    table = sa.Table(
        "bench_floor_grant",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("role_id", sa.Integer, nullable=False),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("principal", "role_id", "tenant_id"),
        sa.Index("ix_bench_floor_grant_principal_tenant", "principal", "tenant_id"),
        sa.Index("ix_bench_floor_grant_tenant_role", "tenant_id", "role_id"),
    )
    engine = create_owner_engine(url)
    try:
        metadata.create_all(engine)
        statement = sa.insert(table)
        samples = []
        for principal, tenant_id in grants:
            row = {"principal": principal, "role_id": 0, "tenant_id": tenant_id, "granted_by": str(ADMIN)}
            row["granted_at"] = datetime.now(UTC)
            started = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(statement, row)
            samples.append((time.perf_counter() - started) * 1000)
        return tuple(samples)
    finally:
        engine.dispose()


def floor_propagation(url: str, changes: int, folder: Path, rng: random.Random | None) -> tuple[float, ...]:
    """``changes`` commits of a one-row version bump, seen by :func:`run_floor_worker`, in ms."""
    engine = create_owner_engine(url)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE bench_floor_version (id INTEGER PRIMARY KEY, v INTEGER)"))
            connection.execute(sa.text("INSERT INTO bench_floor_version VALUES (1, 0)"))
        child = Child("floor-worker", [url], folder)
        try:
            child.receive(timeout=120)
            samples = []
            for _ in range(changes * 2):
                child.send({})
                child.receive(timeout=60)
                unlock_phase(rng)
                with engine.begin() as connection:
                    connection.execute(sa.text("UPDATE bench_floor_version SET v = v + 1"))
                    if postgres:
                        connection.execute(sa.text("SELECT pg_notify('bench_floor', '')"))
                    committing = time.monotonic()
                seen = child.receive(timeout=WATCH_TIMEOUT_S + 60)["seen"]
                samples.append(math.inf if seen is None else (seen - committing) * 1000)
            return tuple(samples)
        finally:
            child.close()
    finally:
        engine.dispose()
