"""bench/authz_scale.py, the measurements: the worker under test (this process) and each figure's floor."""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from nentang.kernel.authz.permissions import AUDIT_READ, TENANTS_READ
from nentang.kernel.data.engines import create_owner_engine
from nentang.kernel.runtime import Kernel, create_kernel

from _authz_children import POLL_INTERVAL_S, STOCK_LADDER, STOCK_RSS_LIMIT_MB, WATCH_TIMEOUT_S, Child, ChildFailed
from _authz_plan import Call, Plan, _permissions_at, _principal
from _authz_population import ADMIN, SEED, Population, bench_settings
from _authz_report import Say, check_line, cold_line, grant_line, memory_line, propagation_line, ready_line, stock_line
from _support import percentile, rss_mb, settled_rss_mb, time_calls, timer_overhead_ns


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
    n: int
    dialect: str
    build: dict[str, float] = field(default_factory=dict)
    ready_s: float = math.nan
    ready_floor_s: float = math.nan
    rss_before_mb: float = math.nan
    rss_ready_mb: float = math.nan
    rss_warm_mb: float = math.nan
    warmed: int = 0
    cached: int = 0
    mem_floor_mb: float = math.nan
    checks: dict[tuple[str, str], Dist] = field(default_factory=dict)
    cold: Dist = Dist(())
    grant: Dist = Dist(())
    grant_cpu: Dist = Dist(())
    propagation: Dist = Dist(())
    stock: list[dict[str, Any]] = field(default_factory=list)
    stock_stop: str = ""
    #: Wall-clock seconds of each part of the run.
    wall: dict[str, float] = field(default_factory=dict)

    @property
    def mem_mb(self) -> float:
        return self.rss_warm_mb - self.rss_before_mb

    @property
    def warm_all(self) -> Dist:
        values = tuple(v for d in self.checks.values() for v in d.values)
        floor = tuple(v for d in self.checks.values() for v in d.floor)
        return Dist(values, floor)

    @property
    def stock_best(self) -> dict[str, Any] | None:
        loaded = [s for s in self.stock if "p50_us" in s]
        return loaded[-1] if loaded else None


def measure_worker(url: str, pop: Population, plan: Plan, figures: Figures, folder: Path, say: Say) -> None:
    figures.ready_floor_s = floor_ready(url)
    figures.rss_before_mb = settled_rss_mb()
    started = time.perf_counter()
    kernel = create_kernel(bench_settings(url))
    try:
        kernel.start()
        figures.ready_s = time.perf_counter() - started
        figures.rss_ready_mb = settled_rss_mb()
        figures.cold = warm_up(kernel, pop, plan.warm)
        figures.rss_warm_mb = settled_rss_mb()
        figures.warmed, figures.cached = len(plan.warm), len(kernel.authz.grants)
        figures.mem_floor_mb = floor_memory_mb(pop, plan.warm)
        say(ready_line(figures))
        say(memory_line(figures))
        figures.checks = time_checks(kernel, pop, plan)
        for (level, case), dist in figures.checks.items():
            say(check_line(f"check {level} {case}", dist))
        say(check_line("check all warm", figures.warm_all, targets=True))
        figures.cold = Dist(figures.cold.values, floor_cold(url, pop, plan.warm[:2000]))
        say(cold_line(figures.cold))
        worker = Child("worker", [url], folder)
        try:
            worker.receive(timeout=120)
            figures.grant, figures.grant_cpu = time_grants(kernel, pop, plan.grantees, url)
            say(grant_line(figures.grant, figures.grant_cpu))
            propagation = time_propagation(kernel, pop, plan.watched, worker, _phase(figures))
        finally:
            worker.close()
        figures.propagation = Dist(propagation, floor_propagation(url, len(plan.watched), folder, _phase(figures)))
        say(propagation_line(figures.propagation, figures.dialect))
    finally:
        kernel.close()


def _phase(figures: Figures) -> random.Random | None:
    return random.Random(SEED + 2) if figures.dialect == "sqlite" else None


def warm_up(kernel: Kernel, pop: Population, users: Sequence[int]) -> Dist:
    """A first check for each user (a cache miss: one indexed query), one at a time; returns their
    timings in µs. (Filling from several threads would be quicker, but each thread brings its own
    malloc arena and database connection into the RSS, which is not authorisation's memory.)"""
    calls = [(_principal(i), pop.home[i], TENANTS_READ) for i in users]
    durations, answers = time_calls(kernel.authz.check, calls, timer_overhead_ns())
    wrong = answers.count(False)
    if wrong:
        raise RuntimeError(f"{wrong} users were refused {TENANTS_READ} at their own tenant, which every role grants")
    return Dist(tuple(durations))


def time_checks(kernel: Kernel, pop: Population, plan: Plan) -> dict[tuple[str, str], Dist]:
    check = kernel.authz.check
    for calls in plan.checks.values():  # warm: every sampled (principal, tenant) checked once before timing
        for call in calls:
            check(*call)
    table = {(p, t): _permissions_at(pop, p, t) for calls in plan.checks.values() for p, t, _ in calls}

    def floor_check(principal: str, tenant_id: int, permission: str) -> bool:
        return permission in table[(principal, tenant_id)]

    overhead = timer_overhead_ns()
    results = {}
    for (level, case), calls in plan.checks.items():
        durations, answers = time_calls(check, calls, overhead)
        expected = case == "allowed"
        wrong = sum(answer != expected for answer in answers)
        if wrong:
            raise RuntimeError(f"kernel answered {wrong} of {len(calls)} {level} {case} checks wrongly")
        floor, floor_answers = time_calls(floor_check, calls, overhead)
        if floor_answers != answers:
            raise RuntimeError(f"the floor's table disagrees with the kernel on {level} {case} checks")
        results[(level, case)] = Dist(tuple(durations), tuple(floor))
    return results


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


def floor_memory_mb(pop: Population, users: Sequence[int]) -> float:
    """Bytes of a plain dict holding the same principals' grants as ``(tenant_id, role_id)`` tuples."""
    table = {_principal(i): ((pop.home[i], pop.role[i]),) for i in users}
    total = sys.getsizeof(table)
    for key, grants in table.items():
        total += sys.getsizeof(key) + sys.getsizeof(grants)
        for pair in grants:
            total += sys.getsizeof(pair) + sum(sys.getsizeof(v) for v in pair)
    return total / 2**20


def floor_cold(url: str, pop: Population, users: Sequence[int]) -> tuple[float, ...]:
    """The cache miss's query through a bare DB-API cursor on an open connection, in µs."""
    engine = create_owner_engine(url)
    try:
        raw = engine.raw_connection()
        try:
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


def run_stock_ladder(folder: Path, n: int, budget_s: float, sample: int, say: Say) -> tuple[list[dict[str, Any]], str]:
    """Load N = 10k, 50k, ... (at most ``n``) into a stock enforcer, each in a child killed at the budget."""
    attempts: list[dict[str, Any]] = []
    for size in sorted({min(s, n) for s in (*STOCK_LADDER, n)}):
        if attempts:
            last = attempts[-1]
            predicted = last["rss_mb"] * size / last["n"]
            if predicted > STOCK_RSS_LIMIT_MB:
                return attempts, f"n={size} not tried: its RSS would be about {predicted:.0f} MB"
        child = Child("stock", [str(folder), str(size), str(sample)], folder)
        try:
            child.receive(timeout=600)  # "loading": the policy file is written, the clock starts
            started = time.monotonic()
            loaded = _await_load(child, started, budget_s)
            if loaded is None:
                elapsed = time.monotonic() - started
                return attempts, f"n={size} did not load within the {budget_s:g} s budget (killed at {elapsed:.1f} s)"
            if "over" in loaded:
                return attempts, f"n={size} killed: RSS passed {STOCK_RSS_LIMIT_MB:.0f} MB while loading"
            done = child.receive(timeout=600)
        finally:
            child.close()
        attempt = {"n": size, **loaded, **done}
        attempts.append(attempt)
        say(stock_line(attempt))
    return attempts, f"every n up to {n} (this run's N) loaded within the budget"


def _await_load(child: Child, started: float, budget_s: float) -> dict[str, Any] | None:
    while True:
        try:
            return child.receive(timeout=0.2)
        except ChildFailed:
            if child.proc.poll() is not None:
                raise
        if time.monotonic() - started > budget_s:
            child.proc.kill()
            return None
        if rss_mb(child.proc.pid) > STOCK_RSS_LIMIT_MB:
            child.proc.kill()
            return {"over": True}
