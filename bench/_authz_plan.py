"""bench/authz_scale.py, the plan: which users are granted and watched, the calls made of a user, and
the answer the population implies for each call."""

from __future__ import annotations

import random
from dataclasses import dataclass

from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS

from _authz_population import Population, stride_order

#: Held by no role: the denied case for an administrator, who holds every declared permission.
UNHELD = "bench.undeclared"


Call = tuple[str, int, str]


@dataclass(slots=True)
class Plan:
    """Indexes of users (user id = index + 1) for the grant and propagation phases."""

    #: Commune viewers who receive "auditor" in the grant phase, and in the propagation rounds.
    grantees: list[int]
    watched: list[int]


def make_plan(pop: Population, grants: int, rounds: int, rng: random.Random) -> Plan:
    viewer = next(r.id for r in pop.roles.values() if r.tenant_id is None and r.name == "viewer")
    grantees: list[int] = []
    watched: list[int] = []
    for index in stride_order(pop.n, rng):
        if index == 0 or pop.level(index) != "commune" or pop.role[index] != viewer:
            continue
        if len(grantees) < grants:
            grantees.append(index)
        elif len(watched) < rounds:
            watched.append(index)
        else:
            break
    return Plan(grantees, watched)


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


def _permissions_at(pop: Population, principal: str, tenant_id: int) -> frozenset[str]:
    """What the one grant of ``principal`` gives at ``tenant_id`` (the floor's precomputed answer)."""
    index = int(principal.removeprefix("user:")) - 1
    tree, home, ancestors = pop.tree, pop.home[index], set()
    node: int | None = tenant_id
    while node is not None:
        ancestors.add(node)
        node = tree.parent[node]
    return pop.roles[pop.role[index]].permissions if home in ancestors else frozenset()
