"""bench/authz_scale.py, the plan: which users are checked, warmed, granted and watched, and the
answer the population implies for each check."""

from __future__ import annotations

import random
from dataclasses import dataclass

from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS

from _authz_population import LEVELS, Population, stride_order

#: Held by no role: the denied case for an administrator, who holds every declared permission.
UNHELD = "bench.undeclared"


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


def _permissions_at(pop: Population, principal: str, tenant_id: int) -> frozenset[str]:
    """What the one grant of ``principal`` gives at ``tenant_id`` (the floor's precomputed answer)."""
    index = int(principal.removeprefix("user:")) - 1
    tree, home, ancestors = pop.tree, pop.home[index], set()
    node: int | None = tenant_id
    while node is not None:
        ancestors.add(node)
        node = tree.parent[node]
    return pop.roles[pop.role[index]].permissions if home in ancestors else frozenset()
