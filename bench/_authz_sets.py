"""bench/authz_scale.py, the working sets: W distinct active principals, drawn uniformly, checked cold
(each one's first check in this worker) and warm (uniform draws from the W), every answer verified."""

from __future__ import annotations

import math
import random
import statistics
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from _authz_plan import Call, _allowed, _denied, _permissions_at
from _authz_population import Population
from _support import percentile, settled_rss_mb, time_calls

#: Calls made, timed and verified per batch (the calls of a whole set are never held at once).
CHUNK = 20_000
Check = Callable[[str, int, str], bool]


@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of durations (µs), kept instead of the durations (millions of them)."""

    n: int
    p50: float
    p99: float
    floor_p50: float = math.nan
    floor_p99: float = math.nan

    @classmethod
    def of(cls, values: Sequence[float], floor: Sequence[float] = ()) -> Summary:
        if not values:
            return cls(0, math.nan, math.nan)
        return cls(
            len(values),
            statistics.median(values),
            percentile(values, 99),
            statistics.median(floor) if floor else math.nan,
            percentile(floor, 99) if floor else math.nan,
        )


@dataclass(frozen=True, slots=True)
class SetFigures:
    active: int
    cold: Summary
    warm: Summary
    #: RSS (MB) over the process's before the kernel was made, once the set was active.
    rss_mb: float
    #: Answers verified (cold + warm).
    checked: int


class Stride:
    """A scrambled order of every principal index (a fixed stride coprime with n): the first W are a
    working set of W distinct principals spread evenly, and no list of n items is ever made."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.n, self.start, step = n, rng.randrange(n), rng.randrange(1, n)
        while math.gcd(step, n) != 1:
            step += 1
        self.step = step

    def __getitem__(self, k: int) -> int:
        return (self.start + k * self.step) % self.n


def make_calls(pop: Population, users: Sequence[int], rng: random.Random) -> tuple[list[Call], list[bool]]:
    """Half allowed, half denied (beside the user's subtree, or a permission its role lacks); the
    expected answer is read again from the population by the floor's rule, so a plan error fails too."""
    calls, expected = [], []
    for index in users:
        allowed = rng.random() < 0.5
        call = _allowed(pop, index, rng) if allowed else _denied(pop, index, rng)
        if (call[2] in _permissions_at(pop, call[0], call[1])) != allowed:
            raise RuntimeError(
                f"the plan's {'allowed' if allowed else 'denied'} call {call} disagrees with the population"
            )
        calls.append(call)
        expected.append(allowed)
    return calls, expected


def verify(label: str, calls: Sequence[Call], answers: Sequence[bool], expected: Sequence[bool]) -> None:
    wrong = [(c, a) for c, a, e in zip(calls, answers, expected, strict=True) if a != e]
    if wrong:
        raise RuntimeError(f"{label}: {len(wrong)} of {len(calls)} answers wrong, e.g. {wrong[0][0]} -> {wrong[0][1]}")


def measure_sets(
    check: Check,
    pop: Population,
    sizes: Sequence[int],
    warm_checks: int,
    rng: random.Random,
    overhead_ns: int,
    rss_before_mb: float,
) -> list[SetFigures]:
    """For each size W (ascending): the first check of every principal new to the set (cold), then
    ``warm_checks`` checks of principals drawn uniformly from all W (warm, with its floor)."""
    order = Stride(pop.n, rng)
    results: list[SetFigures] = []
    active = 0
    for size in sizes:
        cold = array("d")
        for start in range(active, size, CHUNK):
            users = [order[k] for k in range(start, min(size, start + CHUNK))]
            calls, expected = make_calls(pop, users, rng)
            durations, answers = time_calls(check, calls, overhead_ns)
            verify(f"cold checks (set of {size})", calls, answers, expected)
            cold.extend(durations)
        rss = settled_rss_mb() - rss_before_mb
        cold_summary = Summary.of(cold)
        del cold
        warm, floor = array("d"), array("d")
        for start in range(0, warm_checks, CHUNK):
            users = [order[rng.randrange(size)] for _ in range(min(CHUNK, warm_checks - start))]
            calls, expected = make_calls(pop, users, rng)
            durations, answers = time_calls(check, calls, overhead_ns)
            verify(f"warm checks (set of {size})", calls, answers, expected)
            warm.extend(durations)
            table = {(p, t): _permissions_at(pop, p, t) for p, t, _ in calls}

            def floor_check(principal: str, tenant_id: int, permission: str, table: dict = table) -> bool:  # type: ignore[type-arg]
                return permission in table[(principal, tenant_id)]

            floor_durations, floor_answers = time_calls(floor_check, calls, overhead_ns)
            verify("the floor", calls, floor_answers, expected)
            floor.extend(floor_durations)
        results.append(SetFigures(size, cold_summary, Summary.of(warm, floor), rss, (size - active) + warm_checks))
        active = size
    return results


def time_misses(
    check: Check,
    evict: Callable[[str], None],
    pop: Population,
    users: Sequence[int],
    rng: random.Random,
    overhead_ns: int,
) -> Summary:
    """The miss path: each principal marked stale (as a change notification does), then checked."""
    calls, expected = make_calls(pop, users, rng)
    durations = []
    for call, want in zip(calls, expected, strict=True):
        evict(call[0])
        timed, answers = time_calls(check, [call], overhead_ns)
        verify("miss-path checks", [call], answers, [want])
        durations.extend(timed)
    return Summary.of(durations)
