"""bench/authz_scale.py: its building blocks, and one tiny SQLite run of its main function end to end.

No assertion here is about speed: the benchmark prints figures, the tests check that it runs, that the
kernel answers its checks as the population says, and that it prints them in the agreed shape.
"""

from __future__ import annotations

import importlib.util
import random
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ON_POSTGRES

BENCH = Path(__file__).resolve().parent.parent / "bench" / "authz_scale.py"
NUMBER = r"(?:\d+\.\d+|inf|nan)"
LAST_LINE = re.compile(
    rf"^authz: n=(\d+) active=(\d+) ready_s=({NUMBER}) mem_mb=(-?{NUMBER}) p50_us=({NUMBER}) p99_us=({NUMBER}) "
    rf"pg_p50_us=({NUMBER}) pg_p99_us=({NUMBER}) grant_ms=({NUMBER}) propagate_ms=({NUMBER}) "
    rf"stock_p50_us=({NUMBER})$"
)


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """The script as a module (``bench/`` is not a package)."""
    name = "nentang_bench_authz_scale"
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def test_last_line_format(bench: ModuleType) -> None:
    line = bench.format_last_line(
        2_000_000, 2_000_000, 0.12345, 81.26, 1.234, 5.678, 2.5, 9.75, 7.8912, 512.34, 1500.04
    )
    assert line == (
        "authz: n=2000000 active=2000000 ready_s=0.123 mem_mb=81.3 p50_us=1.23 p99_us=5.68 pg_p50_us=2.50 "
        "pg_p99_us=9.75 grant_ms=7.891 propagate_ms=512.3 stock_p50_us=1500.0"
    )
    assert LAST_LINE.match(line)
    nan, inf = float("nan"), float("inf")
    assert LAST_LINE.match(bench.format_last_line(2000, 100, 0.1, 1.0, 1.0, 2.0, nan, nan, 3.0, inf, nan))


def test_stride_order_visits_every_index_once(bench: ModuleType) -> None:
    for n in (1, 2, 7, 1000, 4096):
        order = list(bench.stride_order(n, random.Random(n)))
        assert sorted(order) == list(range(n))
    assert list(bench.stride_order(0, random.Random(0))) == []


def test_percentile_is_nearest_rank(bench: ModuleType) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert bench.percentile(values, 99) == 99.0
    assert bench.percentile(values, 50) == 50.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_plan_asks_for_what_the_population_implies(bench: ModuleType) -> None:
    """Allowed calls are allowed and denied ones denied by the floor's own reading of the population."""
    tree = bench.Tree.from_rows(
        [[1, None, "central"], [2, 1, "province"], [3, 1, "province"]]
        + [[10 + i, 2 + i % 2, "commune"] for i in range(6)]
    )
    viewer = bench.RoleInfo(1, "viewer", None, frozenset({"kernel.tenants.read"}))
    admin = bench.RoleInfo(2, "admin", None, frozenset(p.name for p in bench.KERNEL_PERMISSIONS))
    customs = [
        bench.RoleInfo(3 + i, name, p, frozenset(perms))
        for i, (p, name, perms) in enumerate(
            (p, name, perms) for p in (2, 3) for name, (_, perms) in bench.CUSTOM_ROLES.items()
        )
    ]
    roles = {
        r.id: r
        for r in (
            viewer,
            admin,
            *customs,
            bench.RoleInfo(
                9, "auditor", None, frozenset({"kernel.tenants.read", "kernel.users.read", "kernel.audit.read"})
            ),
        )
    }
    home, role = bench.assign(3000, tree, roles, random.Random(1))
    pop = bench.Population(tree, roles, home, role)
    assert pop.level(0) == "central" and roles[role[0]].name == "admin"
    assert {pop.level(i) for i in range(pop.n)} == {"central", "province", "commune"}
    plan = bench.make_plan(pop, grants=5, rounds=2, rng=random.Random(2))
    assert len(plan.grantees) == 5 and len(plan.watched) == 2
    assert not set(plan.grantees) & set(plan.watched)
    assert all(roles[role[i]].name == "viewer" and pop.level(i) == "commune" for i in plan.grantees + plan.watched)
    users = list(range(pop.n))
    calls, expected = bench.make_calls(pop, users, random.Random(3))
    assert 0.4 < sum(expected) / len(expected) < 0.6  # half allowed, half denied
    for (principal, tenant, permission), allowed in zip(calls, expected, strict=True):
        assert (permission in bench._permissions_at(pop, principal, tenant)) == allowed
    assert {pop.level(i) for i in users} == {"central", "province", "commune"}


def test_a_working_set_is_distinct_principals_spread_over_everyone(bench: ModuleType) -> None:
    order = bench.Stride(1000, random.Random(4))
    first = [order[k] for k in range(100)]
    assert len(set(first)) == 100 and sorted(order[k] for k in range(1000)) == list(range(1000))
    assert max(first) > 800 and min(first) < 200  # not a block of neighbours


def test_a_wrong_answer_fails_the_run(bench: ModuleType) -> None:
    calls = [("user:1", 1, "p"), ("user:2", 1, "p")]
    bench.verify("checks", calls, [True, False], [True, False])
    with pytest.raises(RuntimeError, match="1 of 2 answers wrong"):
        bench.verify("checks", calls, [True, True], [True, False])


@pytest.mark.skipif(ON_POSTGRES, reason="runs the benchmark on SQLite by design; the SQLite run covers it")
def test_main_on_sqlite_prints_figures_and_cleans_up(
    bench: ModuleType, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    argv = ["--n", "2000", "--checks", "200", "--grants", "3", "--rounds", "1", "--no-postgres"]
    assert bench.main([*argv, "--stock-budget-s", "20", "--stock-sample", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    figures = [float(value) for value in match.groups()]
    assert figures[:2] == [2000, 2000]  # the largest working set is everyone
    assert all(value == value for i, value in enumerate(figures) if i not in (6, 7))  # only pg_* are NaN
    assert figures[6] != figures[6] and figures[7] != figures[7]  # --no-postgres: not measured
    for prefix in ("sqlite setup:", "sqlite ready:", "sqlite memory:", "sqlite miss path", "sqlite grant:"):
        assert any(line.startswith(prefix) for line in lines), prefix
    assert sum(line.startswith("sqlite active=") for line in lines) == 3  # 100, 400 and 2,000 principals
    assert any(line.startswith("stock n=2000:") for line in lines)  # asked the same calls, all verified
    assert all("ratio" in line for line in lines if re.search(r"floor[_ ]", line))  # each figure has its floor
    assert any(line.startswith("targets sqlite (targets are for n=active=2000000") for line in lines)
    assert list(tmp_path.iterdir()) == []  # the temporary folder (database, policy files) is gone
