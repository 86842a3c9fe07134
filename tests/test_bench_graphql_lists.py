"""bench/graphql_lists.py on tiny sizes: the three stacks answer the 1,000-item list with
``parent { code }`` alike (every response is checked) and the agreed last line is printed. No
assertion here is about speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "graphql_lists.py"
NUMBER = r"\d+\.\d+"
LAST_LINE = re.compile(
    rf"^graphql_lists: floor_ms=({NUMBER}) strawberry_ms=({NUMBER}) ours_ms=({NUMBER}) "
    rf"floor_cpu_ms=({NUMBER}) strawberry_cpu_ms=({NUMBER}) ours_cpu_ms=({NUMBER}) "
    rf"ours_vs_floor=({NUMBER}) ours_vs_strawberry=({NUMBER}) checked=(\d+)$"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_list_benchmark_checks_every_answer_and_prints_its_last_line() -> None:
    done = run("--requests", "2", "--rounds", "1", "--warmup", "1", "--concurrency", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("setup: sqlite, 1000 items")
    found = LAST_LINE.match(lines[-1])
    assert found is not None, lines[-1]
    *_, floor_cpu, plain_cpu, ours_cpu, vs_floor, vs_plain, checked = found.groups()
    assert int(checked) == 3 * (1 + 2)  # warm-up and timed requests of the three stacks, each checked
    assert abs(float(vs_floor) - float(ours_cpu) / float(floor_cpu)) < 0.02 * float(vs_floor) + 0.01
    assert abs(float(vs_plain) - float(plain_cpu) / float(ours_cpu)) < 0.02 * float(vs_plain) + 0.01


def test_a_bad_argument_is_refused_with_a_message() -> None:
    done = run("--rounds", "few")
    assert done.returncode == 2 and "invalid int value" in done.stderr
