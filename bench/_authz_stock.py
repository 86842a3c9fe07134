"""bench/authz_scale.py, the peer: stock pycasbin asked our question on our data, in children killed at a budget.

Our question is "does a grant at this tenant *or any ancestor* give this permission here". Stock casbin
has no tenant tree, so it is given the tree the documented way: each domain is a tenant's materialised
path (``/1/5/17/``), each assignment's domain the pattern of its subtree (``/1/5/*``), and the ``g``
role manager matches domains with casbin's own ``key_match`` (``add_named_domain_matching_func``).
pycasbin 2.8 ships no ``CachedEnforcer``; what it caches is the role manager it builds per request
domain, so its *cold* figure is a domain's first check and its *warm* figure a check at a domain seen
before. The calls are our working-set calls (same users, tenants, permissions, answers), each verified.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

from _authz_children import Child, ChildFailed, emit
from _authz_population import SEED, Population
from _authz_report import Say, stock_line
from _authz_sets import Stride, make_calls
from _support import percentile, rss_mb, settled_rss_mb, time_calls, timer_overhead_ns

STOCK_LADDER = (10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000)
#: A stock child whose RSS passes this is killed (the machine is shared by several agents).
STOCK_RSS_LIMIT_MB = 4096.0
STOCK_MODEL = """\
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, obj

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.obj == p.obj
"""


def tenant_paths(pop: Population) -> dict[int, str]:
    paths: dict[int, str] = {}
    for tenant in pop.tree.kind:
        chain, node = [], tenant
        while node is not None:
            chain.append(node)
            node = pop.tree.parent[node]
        paths[tenant] = "/" + "/".join(str(t) for t in reversed(chain)) + "/"
    return paths


def write_stock_policy(pop: Population, paths: dict[int, str], path: Path) -> None:
    """Role → permission lines (``p``) and one ``g`` line per assignment, its domain its subtree."""
    with open(path, "w", encoding="utf-8") as out:
        for role in pop.roles.values():
            for permission in sorted(role.permissions):
                out.write(f"p, {role.casbin_subject}, {permission}\n")
        subjects = {role.id: role.casbin_subject for role in pop.roles.values()}
        home, role_of = pop.home, pop.role
        for i in range(pop.n):
            out.write(f"g, user:{i + 1}, {subjects[role_of[i]]}, {paths[home[i]]}*\n")


def run_stock(folder: Path, n: int, sample: int) -> None:
    import casbin  # only the stock child loads a policy of this size
    from casbin.util import key_match

    pop = Population.load(folder, limit=n)
    paths = tenant_paths(pop)
    model_path, policy_path = folder / f"stock-{n}.conf", folder / f"stock-{n}.csv"
    model_path.write_text(STOCK_MODEL, encoding="utf-8")
    write_stock_policy(pop, paths, policy_path)
    rng = random.Random(SEED + 3)
    order = Stride(pop.n, rng)
    calls, expected = make_calls(pop, [order[k % pop.n] for k in range(sample)], rng)
    try:
        before = settled_rss_mb()
        emit({"phase": "loading"})
        started = time.perf_counter()
        enforcer = casbin.Enforcer(str(model_path), str(policy_path))
        enforcer.add_named_domain_matching_func("g", key_match)
        load_s = time.perf_counter() - started
        emit({"phase": "loaded", "load_s": load_s, "rss_mb": settled_rss_mb() - before})
    finally:
        policy_path.unlink(missing_ok=True)
        model_path.unlink(missing_ok=True)
    overhead = timer_overhead_ns()

    def check(principal: str, tenant_id: int, permission: str) -> bool:
        return bool(enforcer.enforce(principal, paths[tenant_id], permission))

    cold, answers = time_calls(check, calls, overhead)  # a domain's first check builds its role manager
    _verify(calls, answers, expected)
    warm, answers = time_calls(check, calls, overhead)
    _verify(calls, answers, expected)
    emit(
        {
            "phase": "done",
            "cold_p50_us": statistics.median(cold),
            "cold_p99_us": percentile(cold, 99),
            "p50_us": statistics.median(warm),
            "p99_us": percentile(warm, 99),
            "checks": len(calls) * 2,
            "policy_lines": len(enforcer.get_policy()) + len(enforcer.get_grouping_policy()),
            "rss_checked_mb": settled_rss_mb() - before,
        }
    )


def _verify(calls: list[Any], answers: list[bool], expected: list[bool]) -> None:
    wrong = [c for c, a, e in zip(calls, answers, expected, strict=True) if a != e]
    if wrong:
        raise RuntimeError(f"stock casbin answered {len(wrong)} of {len(calls)} checks wrongly, e.g. {wrong[0]}")


def run_stock_ladder(folder: Path, n: int, budget_s: float, sample: int, say: Say) -> tuple[list[dict[str, Any]], str]:
    """Load N = 10k, 50k, ... (at most ``n``) and check, each in a child killed at the budget (load and
    checks together) or when its RSS passes :data:`STOCK_RSS_LIMIT_MB`."""
    attempts: list[dict[str, Any]] = []
    for size in sorted({min(s, n) for s in (*STOCK_LADDER, n)}):
        child = Child("stock", [str(folder), str(size), str(sample)], folder)
        try:
            child.receive(timeout=600)  # "loading": the policy file is written, the clock starts
            started = time.monotonic()
            loaded = _await(child, started, budget_s)
            done = _await(child, started, budget_s) if "phase" in loaded else loaded
        finally:
            child.close()
        if "killed" in done:
            return attempts, f"n={size} {done['killed']} (after {time.monotonic() - started:.1f} s)"
        attempt = {"n": size, **loaded, **done}
        attempts.append(attempt)
        say(stock_line(attempt))
    return attempts, f"every n up to {n} (this run's N) loaded and checked within the budget"


def _await(child: Child, started: float, budget_s: float) -> dict[str, Any]:
    while True:
        try:
            return child.receive(timeout=0.2)
        except ChildFailed:
            if child.proc.poll() is not None:
                raise
        if time.monotonic() - started > budget_s:
            child.proc.kill()
            return {"killed": f"did not load and answer within the {budget_s:g} s budget"}
        if rss_mb(child.proc.pid) > STOCK_RSS_LIMIT_MB:
            child.proc.kill()
            return {"killed": f"killed: RSS passed {STOCK_RSS_LIMIT_MB:.0f} MB"}
