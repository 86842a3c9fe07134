"""bench/graphql_bench.py on tiny sizes: it runs the three stacks over the same rows, checks that
they answer alike, and prints the agreed last line. No assertion here is about speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "graphql_bench.py"
NUMBER = r"\d+\.\d+"
LAST_LINE = re.compile(
    rf"^graphql: floor_cpu_ms=({NUMBER}) strawberry_cpu_ms=({NUMBER}) ours_cpu_ms=({NUMBER}) "
    rf"ours_vs_strawberry=({NUMBER}) ours_vs_floor=({NUMBER})$"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_benchmark_prints_its_figures_and_last_line() -> None:
    done = run("--requests", "20", "--rounds", "1", "--warmup", "5", "--concurrency", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("setup: sqlite")
    assert any(line.startswith("small: floor_rps=") for line in lines)
    assert any(line.startswith("page: floor_rps=") for line in lines)
    found = LAST_LINE.match(lines[-1])
    assert found is not None, lines[-1]
    floor, plain, ours, vs_plain, vs_floor = (float(v) for v in found.groups())
    assert min(floor, plain, ours, vs_plain) > 0
    assert abs(vs_floor - ours / floor) < 0.02 * vs_floor + 0.01  # the ratio is of the printed figures


def test_a_bad_argument_is_refused_with_a_message() -> None:
    done = run("--requests", "many")
    assert done.returncode == 2 and "invalid int value" in done.stderr
