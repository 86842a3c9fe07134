"""bench/graphql_bench.py in its smoke mode: it runs the three stacks over the same rows, checks
every answer, and prints the agreed last line. No assertion here is about speed."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPT = BENCH / "graphql_bench.py"
NUMBER = r"\d+\.\d+"
PG = rf"(?:{NUMBER}|skipped)"
LAST_LINE = re.compile(
    rf"^graphql: floor_cpu_ms=({NUMBER}) strawberry_cpu_ms=({NUMBER}) ours_cpu_ms=({NUMBER}) "
    rf"ours_vs_strawberry=({NUMBER}) ours_vs_floor=({NUMBER}) pg_ours_vs_strawberry={PG} pg_ours_vs_floor={PG} "
    rf"list_ours_vs_floor=({NUMBER}) list_ours_vs_strawberry=({NUMBER}) checked=(\d+)$"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_benchmark_prints_its_baselines_targets_and_last_line() -> None:
    done = run("--quick", "--skip-postgres")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("setup: sqlite;")
    for query in ("small", "page", "list"):
        assert any(line.startswith(f"sqlite {query}: floor_rps=") for line in lines), query
        assert any(line.startswith(f"sqlite: {query}: ours read ") for line in lines), query
    assert sum(line.startswith("target sqlite ") for line in lines) == 4
    found = LAST_LINE.match(lines[-1])
    assert found is not None, lines[-1]
    floor, plain, ours, vs_plain, vs_floor, _list_floor, _list_plain, checked = (float(v) for v in found.groups())
    assert min(floor, plain, ours, vs_plain) > 0
    assert abs(vs_floor - ours / floor) < 0.02 * vs_floor + 0.01  # the ratios are of the printed figures
    assert abs(vs_plain - plain / ours) < 0.02 * vs_plain + 0.01
    # quick: 3 stacks x (warm-up + 1 round) per query, and the first answers checked apart
    assert checked >= 3 * (2 * 20 + 2 * 4)


def test_a_wrong_timed_answer_fails_the_run() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from _graphql_drive import Driver, WrongAnswer
    finally:
        sys.path.remove(str(BENCH))

    async def app(scope: dict, receive: object, send: object) -> None:  # answers {"errors": [...]}
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b'{"errors":[{"message":"no"}]}'})  # type: ignore[operator]

    driver = Driver("ours", app, "/graphql", {})
    with pytest.raises(WrongAnswer, match="ours answered a timed small request wrongly"):
        asyncio.run(driver.run(b"{}", b'{"data":{}}', 3, 1, "small"))
    assert driver.checked == 0


def test_a_bad_argument_is_refused_with_a_message() -> None:
    done = run("--requests", "many")
    assert done.returncode == 2 and "invalid int value" in done.stderr
