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
import bisect
import contextlib
import gc
import inspect
import json
import math
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nentang.kernel.authz.models import Grant, Role, RolePermission
from nentang.kernel.authz.permissions import AUDIT_READ, KERNEL_PERMISSIONS, TENANTS_READ, USERS_MANAGE, USERS_READ
from nentang.kernel.data.engines import create_owner_engine
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import User
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import Tenant
from nentang.kernel.tenancy.seed import seed_national_tree

DEFAULT_N = 2_000_000
QUICK_N = 200_000
#: Distinct principals whose first check fills the grant cache (one cache miss each, one at a time).
DEFAULT_WARM = 100_000
QUICK_WARM = 50_000
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Issue 3's targets (at 2,000,000 assignments).
READY_TARGET_S = 5.0
MEMORY_TARGET_MB = 300.0
P50_TARGET_US = 50.0
P99_TARGET_US = 1000.0
GRANT_TARGET_MS = 20.0
PROPAGATION_TARGET_MS = 1000.0
STOCK_LADDER = (10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000)
#: A stock load whose RSS would pass this is not attempted (the machine has 24 GiB; two cores).
STOCK_RSS_LIMIT_MB = 12_288.0
SEED = 20250701
BATCH = 50_000
ACTOR = Actor.system("bench")
ADMIN = Actor("user", "1")  # user 1: the central administrator, granted through the operator path
#: Held by no role: the denied case for an administrator, who holds every declared permission.
UNHELD = "bench.undeclared"
#: Who lives where, and which roles they hold there (weights; custom roles exist below provinces only).
LEVEL_SHARES = (("commune", 0.80), ("province", 0.17), ("central", 0.03))
ROLE_MIX = {
    "commune": (("viewer", 60), ("auditor", 15), ("clerk", 12), ("hr", 8), ("admin", 5)),
    "province": (("viewer", 50), ("auditor", 20), ("clerk", 10), ("hr", 10), ("admin", 10)),
    "central": (("viewer", 50), ("auditor", 30), ("admin", 20)),
}
CUSTOM_ROLES = {
    "clerk": ("Clerk: sees tenants and users of the province", (TENANTS_READ, USERS_READ)),
    "hr": ("HR officer: manages users of the province", (TENANTS_READ, USERS_READ, USERS_MANAGE)),
}
LEVELS = ("commune", "province", "central")
CHILD_FLAG = "--bench-child"
MARK = "@@bench "
THIS_FILE = Path(__file__).resolve()
#: The kernel's version-poll interval (the bound on propagation where there is no LISTEN/NOTIFY).
POLL_INTERVAL_S: float = inspect.signature(ChangeWatcher).parameters["poll_interval"].default


# -- small helpers ---------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``pct`` % of values at or below it."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {pct}")
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 else math.inf


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (``/proc``); the peak from ``getrusage`` where there is no ``/proc``."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        if pid != "self":
            return 0.0
    import resource  # not on every platform; only the fallback needs it

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settled_rss_mb() -> float:
    gc.collect()
    return rss_mb()


def stride_order(n: int, rng: random.Random) -> Iterator[int]:
    """Every index in ``range(n)`` exactly once, in a scrambled order, without a list of n items."""
    if n <= 0:
        return
    start = rng.randrange(n)
    step = rng.randrange(1, n) if n > 1 else 1
    while math.gcd(step, n) != 1:
        step += 1
    for k in range(n):
        yield (start + k * step) % n


def chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def timer_overhead_ns(samples: int = 20_000) -> int:
    """The median cost of one ``perf_counter_ns`` pair, subtracted from every timed call."""
    ns = time.perf_counter_ns
    values = []
    for _ in range(samples):
        t0 = ns()
        t1 = ns()
        values.append(t1 - t0)
    return int(statistics.median(values))


def time_calls(
    fn: Callable[[str, int, str], bool], calls: Sequence[tuple[str, int, str]], overhead_ns: int
) -> tuple[list[float], list[bool]]:
    """Each call timed on its own; returns durations in µs (timer overhead subtracted) and answers."""
    ns = time.perf_counter_ns
    durations: list[int] = []
    answers: list[bool] = []
    for principal, tenant_id, permission in calls:
        t0 = ns()
        answer = fn(principal, tenant_id, permission)
        t1 = ns()
        durations.append(t1 - t0)
        answers.append(answer)
    return [max(d - overhead_ns, 0) / 1000 for d in durations], answers


def bench_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, mode="development", log_json=True, log_level="WARNING")


def format_last_line(
    n: int,
    ready_s: float,
    mem_mb: float,
    p50_us: float,
    p99_us: float,
    grant_ms: float,
    propagate_ms: float,
    stock_n: int,
    stock_p50_us: float,
) -> str:
    return (
        f"authz: n={n} ready_s={ready_s:.3f} mem_mb={mem_mb:.1f} p50_us={p50_us:.2f} p99_us={p99_us:.2f} "
        f"grant_ms={grant_ms:.3f} propagate_ms={propagate_ms:.1f} stock_n={stock_n} stock_p50_us={stock_p50_us:.1f}"
    )


# -- the population ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tree:
    central: int
    provinces: tuple[int, ...]
    communes: tuple[int, ...]
    parent: dict[int, int | None]
    kind: dict[int, str]
    communes_of: dict[int, tuple[int, ...]]

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> Tree:
        parent: dict[int, int | None] = {}
        kind: dict[int, str] = {}
        for tenant_id, parent_id, tenant_kind in rows:
            parent[tenant_id], kind[tenant_id] = parent_id, tenant_kind
        of_kind = {k: tuple(sorted(t for t, tk in kind.items() if tk == k)) for k in LEVELS}
        if len(of_kind["central"]) != 1:
            raise RuntimeError(f"expected one central tenant, found {len(of_kind['central'])}")
        communes_of: dict[int, list[int]] = {p: [] for p in of_kind["province"]}
        for commune in of_kind["commune"]:
            communes_of[parent[commune] or 0].append(commune)
        return cls(
            of_kind["central"][0],
            of_kind["province"],
            of_kind["commune"],
            parent,
            kind,
            {p: tuple(c) for p, c in communes_of.items()},
        )

    def rows(self) -> list[list[Any]]:
        return [[t, self.parent[t], self.kind[t]] for t in sorted(self.kind)]


@dataclass(frozen=True, slots=True)
class RoleInfo:
    id: int
    name: str
    tenant_id: int | None
    permissions: frozenset[str]

    @property
    def casbin_subject(self) -> str:
        """Stock casbin has no tenant tree: a custom role gets a name unique in the platform."""
        return f"role:{self.name}" if self.tenant_id is None else f"role:{self.name}@{self.tenant_id}"


@dataclass(frozen=True, slots=True)
class Population:
    """Who holds which role where: user ``i + 1`` has one grant, of ``role[i]`` at ``home[i]``."""

    tree: Tree
    roles: dict[int, RoleInfo]
    home: array
    role: array

    @property
    def n(self) -> int:
        return len(self.home)

    def level(self, index: int) -> str:
        return self.tree.kind[self.home[index]]

    def save(self, folder: Path) -> None:
        (folder / "home.i32").write_bytes(self.home.tobytes())
        (folder / "role.i32").write_bytes(self.role.tobytes())
        meta = {
            "tenants": self.tree.rows(),
            "roles": [[r.id, r.name, r.tenant_id, sorted(r.permissions)] for r in self.roles.values()],
        }
        (folder / "population.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, limit: int | None = None) -> Population:
        meta = json.loads((folder / "population.json").read_text(encoding="utf-8"))
        roles = {r[0]: RoleInfo(r[0], r[1], r[2], frozenset(r[3])) for r in meta["roles"]}
        home, role = array("i"), array("i")
        home.frombytes((folder / "home.i32").read_bytes())
        role.frombytes((folder / "role.i32").read_bytes())
        if limit is not None:
            home, role = home[:limit], role[:limit]
        return cls(Tree.from_rows(meta["tenants"]), roles, home, role)


def assign(n: int, tree: Tree, roles: dict[int, RoleInfo], rng: random.Random) -> tuple[array, array]:
    """Draw each user's home tenant and role; user 1 is the central administrator."""
    templates = {r.name: r.id for r in roles.values() if r.tenant_id is None}
    custom = {(r.tenant_id, r.name): r.id for r in roles.values() if r.tenant_id is not None}
    level_cum = list(_cumulative(share for _, share in LEVEL_SHARES))
    mixes = {
        level: (list(_cumulative(w for _, w in mix)), [name for name, _ in mix]) for level, mix in ROLE_MIX.items()
    }
    pools = {"commune": tree.communes, "province": tree.provinces, "central": (tree.central,)}
    home, role = array("i"), array("i")
    home.append(tree.central)
    role.append(templates["admin"])
    for _ in range(n - 1):
        level = LEVEL_SHARES[bisect.bisect(level_cum, rng.random() * level_cum[-1])][0]
        tenant = rng.choice(pools[level])
        cum, names = mixes[level]
        name = names[bisect.bisect(cum, rng.random() * cum[-1])]
        if name in templates:
            role_id = templates[name]
        else:
            province = tenant if level == "province" else tree.parent[tenant]
            role_id = custom[(province, name)]
        home.append(tenant)
        role.append(role_id)
    return home, role


def _cumulative(weights: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


# -- setup: the database, in a child process (so that this process's memory stays the worker's) ----


def build_database(database_url: str, n: int, folder: Path) -> dict[str, float]:
    """Migrate, seed the tree, insert N users and N grants; save the population to ``folder``."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    kernel = create_kernel(bench_settings(database_url))
    try:
        kernel.upgrade_database()
        seed_national_tree(kernel.db, kernel.tenants, kernel.audit, ACTOR)
        owner = kernel.db.owner_engine
        with owner.connect() as connection:
            tree = Tree.from_rows(connection.execute(sa.select(Tenant.id, Tenant.parent_id, Tenant.kind)).all())
        timings["tree_s"] = time.perf_counter() - started

        mark = time.perf_counter()
        rng = random.Random(SEED)
        now = datetime.now(UTC)
        # Homes first need the custom roles' ids, which need user 1 (their creator): insert user 1, grant
        # it admin at the centre, create the custom roles through the delegated path, then everyone else.
        _insert(owner, User.__table__, [_user_row(1, tree.central, now)])
        with kernel.db.platform() as session, session.begin():
            kernel.authz.grant_as_operator(
                session, actor=ACTOR, principal=str(ADMIN), role="admin", tenant_id=tree.central
            )
        for province in tree.provinces:
            with kernel.db.platform() as session, session.begin():
                for name, (description, permissions) in CUSTOM_ROLES.items():
                    kernel.authz.create_role(
                        session,
                        actor=ADMIN,
                        tenant_id=province,
                        name=name,
                        permissions=permissions,
                        description=description,
                    )
        timings["roles_s"] = time.perf_counter() - mark
        roles = _read_roles(owner)
        home, role = assign(n, tree, roles, rng)

        mark = time.perf_counter()
        _insert(owner, User.__table__, (_user_row(i + 1, home[i], now) for i in range(1, n)))
        timings["users_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        by = str(ACTOR)
        grants = (
            {
                "principal": f"user:{i + 1}",
                "role_id": role[i],
                "tenant_id": home[i],
                "granted_by": by,
                "granted_at": now,
            }
            for i in range(1, n)
        )
        _insert(owner, Grant.__table__, grants)
        if owner.dialect.name == "postgresql":  # ids were given: move the sequence past them
            with owner.begin() as connection:
                connection.execute(sa.text("SELECT setval('kernel_user_id_seq', (SELECT max(id) FROM kernel_user))"))
        _analyze(owner)
        timings["grants_s"] = time.perf_counter() - mark
        Population(tree, roles, home, role).save(folder)
    finally:
        kernel.close()
    timings["total_s"] = time.perf_counter() - started
    return timings


def _user_row(user_id: int, home: int, now: datetime) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": f"u{user_id:07d}",
        "display_name": f"Cán bộ {user_id}",
        "email": None,
        "home_tenant_id": home,
        "password_hash": None,
        "oidc_issuer": None,
        "oidc_subject": None,
        "status": "active",
        "created_at": now,
        "updated_at": now,
        "last_login_at": None,
    }


def _insert(engine: sa.Engine, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    """Core executemany of plain dicts, in batches, one transaction."""
    statement = sa.insert(table)
    with engine.begin() as connection:
        for batch in chunks(rows, BATCH):
            connection.execute(statement, batch)


def _analyze(engine: sa.Engine) -> None:
    """Planner statistics, as any production database has after a bulk load."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE kernel_user"))
            connection.execute(sa.text("ANALYZE kernel_grant"))
        else:
            connection.execute(sa.text("ANALYZE"))


def _read_roles(engine: sa.Engine) -> dict[int, RoleInfo]:
    with engine.connect() as connection:
        roles = connection.execute(sa.select(Role.id, Role.name, Role.tenant_id)).all()
        lines = connection.execute(sa.select(RolePermission.role_id, RolePermission.permission)).all()
    permissions: dict[int, set[str]] = {}
    for role_id, permission in lines:
        permissions.setdefault(role_id, set()).add(permission)
    return {r: RoleInfo(r, name, tenant, frozenset(permissions.get(r, ()))) for r, name, tenant in roles}


# -- what to check, for whom -------------------------------------------------------------------

Call = tuple[str, int, str]


@dataclass(slots=True)
class Plan:
    """Indexes of users (user id = index + 1) for each phase, and the checks to time."""

    #: (level, "allowed" | "denied") -> the calls to time.
    checks: dict[tuple[str, str], list[Call]]
    #: Distinct users whose first check fills the cache (every checked user is among them).
    warm: list[int]
    #: Commune viewers who receive "auditor" in the grant phase, and in the propagation rounds.
    grantees: list[int]
    watched: list[int]


def make_plan(pop: Population, per_case: int, warm: int, grants: int, rounds: int, rng: random.Random) -> Plan:
    viewer = next(r.id for r in pop.roles.values() if r.tenant_id is None and r.name == "viewer")
    order = stride_order(pop.n, rng)
    by_level: dict[str, list[int]] = {level: [] for level in LEVELS}
    grantees: list[int] = []
    watched: list[int] = []
    seen: set[int] = set()
    for index in order:
        if index == 0:
            continue  # the administrator
        level = pop.level(index)
        if len(by_level[level]) < per_case:
            by_level[level].append(index)
            seen.add(index)
        elif level == "commune" and pop.role[index] == viewer and len(grantees) < grants:
            grantees.append(index)
        elif level == "commune" and pop.role[index] == viewer and len(watched) < rounds:
            watched.append(index)
        if all(len(v) >= per_case for v in by_level.values()) and len(grantees) == grants and len(watched) == rounds:
            break
    extra: list[int] = []
    wanted = max(min(warm, pop.n - 1 - len(grantees) - len(watched)) - len(seen), 0)
    excluded = seen | set(grantees) | set(watched) | {0}
    for index in order if wanted else ():
        if index not in excluded:
            extra.append(index)
            if len(extra) == wanted:
                break
    if len(extra) < wanted:  # the walk had passed them: take the rest from the beginning
        excluded |= set(extra)
        extra += [i for i in range(pop.n) if i not in excluded][: wanted - len(extra)]
    warm_order = [*seen, *extra]
    rng.shuffle(warm_order)  # no help from the index's order: principals arrive in no particular order
    checks: dict[tuple[str, str], list[Call]] = {}
    for level in LEVELS:
        users = by_level[level]
        picks = [users[k % len(users)] for k in range(per_case)] if users else []
        checks[(level, "allowed")] = [_allowed(pop, i, rng) for i in picks]
        checks[(level, "denied")] = [_denied(pop, i, rng) for i in picks]
    return Plan(checks, warm_order, grantees, watched)


def _principal(index: int) -> str:
    return f"user:{index + 1}"


def _held(pop: Population, index: int) -> list[str]:
    return sorted(pop.roles[pop.role[index]].permissions)


def _unheld(pop: Population, index: int, rng: random.Random) -> str:
    missing = sorted({p.name for p in KERNEL_PERMISSIONS} - pop.roles[pop.role[index]].permissions)
    return rng.choice(missing) if missing else UNHELD


def _allowed(pop: Population, index: int, rng: random.Random) -> Call:
    """A permission of the user's role, at its tenant or below."""
    tree, home = pop.tree, pop.home[index]
    level = tree.kind[home]
    if level == "commune":
        tenant = home
    elif level == "province":
        tenant = home if rng.random() < 0.5 else rng.choice(tree.communes_of[home])
    else:
        tenant = rng.choice(tree.communes) if rng.random() < 0.8 else rng.choice(tree.provinces)
    return _principal(index), tenant, rng.choice(_held(pop, index))


def _denied(pop: Population, index: int, rng: random.Random) -> Call:
    """Half beside the user's subtree with a permission it holds, half at home with one it lacks
    (always the latter for central users, whose subtree is everything)."""
    tree, home = pop.tree, pop.home[index]
    level = tree.kind[home]
    if level != "central" and rng.random() < 0.5:
        while True:
            tenant = rng.choice(tree.communes)
            province = tree.parent[tenant]
            if tenant != home and province != home:
                return _principal(index), tenant, rng.choice(_held(pop, index))
    tenant = home if level != "central" else rng.choice(tree.communes)
    return _principal(index), tenant, _unheld(pop, index, rng)


def stock_calls(pop: Population, count: int, rng: random.Random) -> list[tuple[str, str, str, bool]]:
    """For stock casbin: users checked at their own tenant (it has no tree), half allowed, half denied."""
    calls = []
    for k, index in enumerate(stride_order(pop.n, rng)):
        if k == count:
            break
        allowed = k % 2 == 0
        permission = rng.choice(_held(pop, index)) if allowed else _unheld(pop, index, rng)
        calls.append((_principal(index), str(pop.home[index]), permission, allowed))
    return calls


# -- child processes ---------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    pass


class Child:
    """This script run again as a child (``--bench-child KIND ...``), talking JSON lines marked
    with :data:`MARK` on stdout; stderr goes to a file that is quoted when the child fails."""

    def __init__(self, kind: str, args: Sequence[str], folder: Path) -> None:
        self.kind = kind
        self._stderr_path = folder / f"child-{kind}-{uuid.uuid4().hex[:8]}.err"
        self._stderr = open(self._stderr_path, "w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, str(THIS_FILE), CHILD_FLAG, kind, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"bench-child-{kind}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            if line.startswith(MARK):
                self._lines.put(line[len(MARK) :])
        self._lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        if self.proc.stdin is None:
            raise ChildFailed(f"{self.kind} child has no input")
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ChildFailed(f"{self.kind} child: no answer within {timeout:g} s{self._tail()}") from None
        if line is None:
            self.proc.wait(timeout=10)
            raise ChildFailed(f"{self.kind} child exited with status {self.proc.returncode}{self._tail()}")
        message: dict[str, Any] = json.loads(line)
        return message

    def _tail(self) -> str:
        self._stderr.flush()
        lines = self._stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return (": " + " | ".join(lines[-5:])) if lines else ""

    def close(self) -> None:
        """End the child (a worker ends when its input does; a stuck one is killed) and its pipes."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


def emit(message: dict[str, Any]) -> None:
    print(MARK + json.dumps(message), flush=True)


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


#: How long the spinning child sleeps between two checks.
SPIN_SLEEP_S = 0.0002
WATCH_TIMEOUT_S = 10.0


def run_worker(database_url: str) -> None:
    """A second worker: its own kernel, started; flips are seen through its caches only."""
    kernel = create_kernel(bench_settings(database_url))
    kernel.start()
    try:
        emit({"ready": True})
        check = kernel.authz.check
        for line in sys.stdin:
            message = json.loads(line)
            principal, tenant, permission = message["principal"], message["tenant"], message["permission"]
            emit({"armed": check(principal, tenant, permission)})
            emit({"seen": _spin(partial(_answer_is, check, principal, tenant, permission, message["expect"]))})
    finally:
        kernel.close()


def run_floor_worker(database_url: str) -> None:
    """The propagation floor: a bare connection that learns of a commit as cheaply as the kernel's design
    allows — LISTEN on PostgreSQL, a poll of one row every :data:`POLL_INTERVAL_S` on SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        import psycopg  # PostgreSQL only

        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute("LISTEN bench_floor")
            emit({"ready": True})
            for _line in sys.stdin:
                emit({"armed": False})
                seen = None
                for _note in connection.notifies(timeout=WATCH_TIMEOUT_S, stop_after=1):
                    seen = time.monotonic()
                emit({"seen": seen})
        return
    import sqlite3

    connection = sqlite3.connect(url.database or "", isolation_level=None)
    read = "SELECT v FROM bench_floor_version"
    try:
        emit({"ready": True})
        origin = time.monotonic()  # polls on a fixed cadence from here, as the kernel's watcher thread does
        for _line in sys.stdin:
            before = connection.execute(read).fetchone()[0]
            emit({"armed": False})
            deadline = time.monotonic() + WATCH_TIMEOUT_S
            seen = None
            while time.monotonic() < deadline:
                ticks = math.floor((time.monotonic() - origin) / POLL_INTERVAL_S) + 1
                time.sleep(max(origin + ticks * POLL_INTERVAL_S - time.monotonic(), 0))
                if connection.execute(read).fetchone()[0] != before:
                    seen = time.monotonic()
                    break
            emit({"seen": seen})
    finally:
        connection.close()


def _answer_is(
    check: Callable[[str, int, str], bool], principal: str, tenant: int, permission: str, want: bool
) -> bool:
    return check(principal, tenant, permission) == want


def _spin(flipped: Callable[[], bool]) -> float | None:
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if flipped():
            return time.monotonic()
        time.sleep(SPIN_SLEEP_S)
    return None


STOCK_MODEL = """\
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && (p.dom == "*" || r.dom == p.dom) && r.obj == p.obj
"""


def write_stock_policy(pop: Population, path: Path) -> None:
    """Role → permission lines (``p``, every domain) and one ``g`` line per assignment."""
    with open(path, "w", encoding="utf-8") as out:
        for role in pop.roles.values():
            for permission in sorted(role.permissions):
                out.write(f"p, {role.casbin_subject}, *, {permission}\n")
        subjects = {role.id: role.casbin_subject for role in pop.roles.values()}
        home, role_of = pop.home, pop.role
        for i in range(pop.n):
            out.write(f"g, user:{i + 1}, {subjects[role_of[i]]}, {home[i]}\n")


def run_stock(folder: Path, n: int, sample: int) -> None:
    import casbin  # only the stock child loads a policy of this size

    pop = Population.load(folder, limit=n)
    model_path, policy_path = folder / f"stock-{n}.conf", folder / f"stock-{n}.csv"
    model_path.write_text(STOCK_MODEL, encoding="utf-8")
    write_stock_policy(pop, policy_path)
    calls = stock_calls(pop, sample, random.Random(SEED + 3))
    try:
        before = settled_rss_mb()
        emit({"phase": "loading"})
        started = time.perf_counter()
        enforcer = casbin.Enforcer(str(model_path), str(policy_path))
        load_s = time.perf_counter() - started
        emit({"phase": "loaded", "load_s": load_s, "rss_mb": settled_rss_mb() - before})
    finally:
        policy_path.unlink(missing_ok=True)
        model_path.unlink(missing_ok=True)
    # The stock domain role manager compares every new link with every role of the domain: the first check
    # in the central domain would be quadratic in its users (hours at 2M). Issue 3's one-line fix:
    enforcer.get_role_manager().add_matching_func(None)
    for principal, domain, permission, allowed in calls:  # warm: a first check for each sampled user
        if enforcer.enforce(principal, domain, permission) != allowed:
            raise RuntimeError(f"stock casbin answered wrongly for {principal} at {domain}: {permission}")
    overhead = timer_overhead_ns()
    durations, _ = time_calls(enforcer.enforce, [c[:3] for c in calls], overhead)  # type: ignore[arg-type]
    allowed_us = [d for d, c in zip(durations, calls, strict=True) if c[3]]
    denied_us = [d for d, c in zip(durations, calls, strict=True) if not c[3]]
    emit(
        {
            "phase": "done",
            "p50_us": statistics.median(durations),
            "p99_us": percentile(durations, 99),
            "allowed_p50_us": statistics.median(allowed_us) if allowed_us else math.nan,
            "denied_p50_us": statistics.median(denied_us) if denied_us else math.nan,
            "checks": len(durations),
            "policy_lines": len(enforcer.get_policy()),
        }
    )


# -- the worker under test (this process) --------------------------------------------------------


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


def _permissions_at(pop: Population, principal: str, tenant_id: int) -> frozenset[str]:
    """What the one grant of ``principal`` gives at ``tenant_id`` (the floor's precomputed answer)."""
    index = int(principal.removeprefix("user:")) - 1
    tree, home, ancestors = pop.tree, pop.home[index], set()
    node: int | None = tenant_id
    while node is not None:
        ancestors.add(node)
        node = tree.parent[node]
    return pop.roles[pop.role[index]].permissions if home in ancestors else frozenset()


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


# -- the floors --------------------------------------------------------------------------------


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


# -- stock pycasbin ----------------------------------------------------------------------------


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


# -- the report --------------------------------------------------------------------------------

Say = Callable[[str], None]


def setup_line(figures: Figures) -> str:
    b = figures.build
    return (
        f"setup: built in {b['total_s']:.1f} s (migrate + tree {b['tree_s']:.1f} s, admin + custom roles "
        f"{b['roles_s']:.1f} s, {figures.n} users {b['users_s']:.1f} s, {figures.n} grants + analyze "
        f"{b['grants_s']:.1f} s) — setup only, no target"
    )


def ready_line(f: Figures) -> str:
    return (
        f"ready: ready_s={f.ready_s:.3f} (create_kernel + start) floor_s={f.ready_floor_s:.4f} "
        f"(new engine + SELECT 1) ratio={ratio(f.ready_s, f.ready_floor_s):.1f} "
        f"target<={READY_TARGET_S:g}s: {met(f.ready_s <= READY_TARGET_S)}"
    )


def memory_line(f: Figures) -> str:
    per = (f.rss_warm_mb - f.rss_ready_mb) * 1024 / f.warmed if f.warmed else math.nan
    return (
        f"memory: mem_mb={f.mem_mb:.1f} (RSS {f.rss_before_mb:.1f} MB before create_kernel, {f.rss_ready_mb:.1f} "
        f"when ready, {f.rss_warm_mb:.1f} after a first check of {f.warmed} distinct principals; {f.cached} "
        f"cached; {per:.2f} KB per principal) floor_mb={f.mem_floor_mb:.1f} (plain dict of the same grants) "
        f"ratio={ratio(f.mem_mb, f.mem_floor_mb):.1f} target<={MEMORY_TARGET_MB:g}MB: "
        f"{met(f.mem_mb <= MEMORY_TARGET_MB)}"
    )


def check_line(label: str, d: Dist, *, targets: bool = False) -> str:
    line = (
        f"{label}: p50_us={d.p50:.2f} p99_us={d.p99:.2f} n={len(d.values)} floor p50_us={d.floor_p50:.2f} "
        f"p99_us={d.floor_p99:.2f} (dict lookup of a precomputed frozenset) ratio p50={ratio(d.p50, d.floor_p50):.1f} "
        f"p99={ratio(d.p99, d.floor_p99):.1f}"
    )
    if targets:
        line += (
            f" target p50<={P50_TARGET_US:g}us: {met(d.p50 <= P50_TARGET_US)}, "
            f"p99<={P99_TARGET_US:g}us: {met(d.p99 <= P99_TARGET_US)}"
        )
    return line


def cold_line(d: Dist) -> str:
    return (
        f"check cold (first check of a principal: one indexed query; information): p50_us={d.p50:.1f} "
        f"p99_us={d.p99:.1f} n={len(d.values)} floor p50_us={d.floor_p50:.1f} p99_us={d.floor_p99:.1f} "
        f"(the same query on a bare DB-API cursor) ratio p50={ratio(d.p50, d.floor_p50):.1f}"
    )


def grant_line(d: Dist, cpu: Dist) -> str:
    return (
        f"grant: grant_ms median={d.p50:.3f} p95={d.p95:.3f} n={len(d.values)} (authz.grant by an administrator, "
        f"checked, audited, committed; this thread's CPU median={cpu.p50:.3f} ms, the rest off-CPU: database "
        f"server, I/O, or waiting for a core) floor_ms median={d.floor_p50:.3f} (bare INSERT + COMMIT of one row) "
        f"ratio={ratio(d.p50, d.floor_p50):.1f} target<={GRANT_TARGET_MS:g}ms: {met(d.p50 <= GRANT_TARGET_MS)}"
    )


def propagation_line(d: Dist, dialect: str) -> str:
    how = "LISTEN on a bare connection" if dialect == "postgres" else f"bare poll of a row every {POLL_INTERVAL_S:g} s"
    return (
        f"propagation: propagate_ms median={d.p50:.1f} max={d.max:.1f} changes={len(d.values)} (grant then revoke, "
        f"seen by a second worker process) floor_ms median={d.floor_p50:.1f} max={d.floor_max:.1f} ({how}) "
        f"ratio max={ratio(d.max, d.floor_max):.1f} target<={PROPAGATION_TARGET_MS:g}ms: "
        f"{met(d.max <= PROPAGATION_TARGET_MS)}"
    )


def stock_line(a: dict[str, Any]) -> str:
    return (
        f"stock n={a['n']}: load_s={a['load_s']:.2f} rss_mb={a['rss_mb']:.1f} check p50_us={a['p50_us']:.1f} "
        f"(allowed {a['allowed_p50_us']:.1f}, denied {a['denied_p50_us']:.1f}) p99_us={a['p99_us']:.1f} "
        f"checks={a['checks']} policy_lines={a['policy_lines']}"
    )


def summary_lines(f: Figures, budget_s: float) -> list[str]:
    lines = []
    best = f.stock_best
    warm = f.warm_all
    if best is None:
        lines.append(f"stock: nothing loaded within the {budget_s:g} s budget ({f.stock_stop})")
    else:
        lines.append(f"stock: largest n loaded within {budget_s:g} s: {best['n']} ({f.stock_stop})")
        lines.append(
            f"ours vs stock (ours at n={f.n}, stock at n={best['n']}, stock checks at the user's own tenant only): "
            f"check p50 {warm.p50:.2f} vs {best['p50_us']:.1f} us (stock/ours={ratio(best['p50_us'], warm.p50):.0f}x, "
            f"stock/floor={ratio(best['p50_us'], warm.floor_p50):.0f}x); ready {f.ready_s:.3f} vs "
            f"{best['load_s']:.2f} s (stock/ours={ratio(best['load_s'], f.ready_s):.1f}x); memory {f.mem_mb:.1f} vs "
            f"{best['rss_mb']:.1f} MB (stock/ours={ratio(best['rss_mb'], f.mem_mb):.1f}x)"
        )
    w = f.wall
    lines.append(
        f"wall: {w['total']:.0f} s (setup {w['setup']:.0f} s, worker {w['worker']:.0f} s, stock {w['stock']:.0f} s); "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus"
    )
    scale = "" if f.n == DEFAULT_N else f" (targets are for n={DEFAULT_N}; this run has n={f.n})"
    verdicts = [
        ("ready", f.ready_s <= READY_TARGET_S),
        ("memory", f.mem_mb <= MEMORY_TARGET_MB),
        ("check p50", warm.p50 <= P50_TARGET_US),
        ("check p99", warm.p99 <= P99_TARGET_US),
        ("grant", f.grant.p50 <= GRANT_TARGET_MS),
        ("propagation", f.propagation.max <= PROPAGATION_TARGET_MS),
    ]
    lines.append("targets" + scale + ": " + ", ".join(f"{name} {met(ok)}" for name, ok in verdicts))
    lines.append(
        format_last_line(
            f.n,
            f.ready_s,
            f.mem_mb,
            warm.p50,
            warm.p99,
            f.grant.p50,
            f.propagation.max,
            best["n"] if best else 0,
            best["p50_us"] if best else math.nan,
        )
    )
    return lines


# -- one run -----------------------------------------------------------------------------------


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used at ``admin_url``, or ``None`` when it answers."""
    try:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    except Exception as exc:  # a bad URL or a missing driver: report it as the reason
        return f"{type(exc).__name__}: {exc}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable" here
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {lines[0] if lines else 'no detail'}"
    finally:
        engine.dispose()
    return None


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A database of its own, next to the one ``admin_url`` names; dropped even on error."""
    name = f"nentang_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


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
