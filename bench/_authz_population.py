"""bench/authz_scale.py, the population: the national tree, who holds which role where, and the
database built from it (in a child process, so the measuring process's memory stays the worker's)."""

from __future__ import annotations

import bisect
import json
import math
import random
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from nentang.kernel.authz.models import Grant, Role, RolePermission
from nentang.kernel.authz.permissions import TENANTS_READ, USERS_MANAGE, USERS_READ
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import User
from nentang.kernel.runtime import create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import Tenant
from nentang.kernel.tenancy.seed import seed_national_tree

SEED = 20250701
BATCH = 50_000
ACTOR = Actor.system("bench")
ADMIN = Actor("user", "1")  # user 1: the central administrator, granted through the operator path
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


def bench_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, mode="development", log_json=True, log_level="WARNING")


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
