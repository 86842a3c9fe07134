"""The sandbox review's samples, each reviewed once per test session and shared by the test files
that read the reports (``test_sandbox_review.py``, ``test_sandbox_dynamic.py``).

Every folder of ``tests/hostile_plugins/`` with a ``pyproject.toml`` is built, installed and
reviewed, three at a time (a review mostly waits on its subprocesses); work folders are kept (the
digest test installs the built wheel). Before the reviews, a file only the host shows is planted
for ``hostread`` to look for.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from nentang.sandbox import ReviewOptions, ReviewReport, review
from nentang.sandbox.isolation import Limits

SAMPLES = Path(__file__).parent / "hostile_plugins"
#: Samples reviewed under smaller limits, so that the limit they provoke fires in seconds.
LIMITS = {"cpuspin": Limits(cpu_seconds=6), "sleeper": Limits(wall_seconds=20)}
#: A folder of the host outside everything the sandbox binds.
HOST_FOLDER = Path("/var/tmp")


@dataclass(frozen=True)
class HostFile:
    path: Path
    marker: str


def sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLES.iterdir() if (p / "pyproject.toml").is_file())


@pytest.fixture(scope="session")
def host_file() -> Iterator[HostFile]:
    marker = f"HOSTONLY{secrets.token_hex(8)}"
    path = HOST_FOLDER / f"nentang-review-host-{secrets.token_hex(4)}"
    path.write_text(marker, encoding="utf-8")
    try:
        yield HostFile(path, marker)
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def work_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: tmp_path_factory.mktemp(f"review-{name}") for name in sample_names()}


@pytest.fixture(scope="session")
def reviews(work_dirs: dict[str, Path], host_file: HostFile) -> dict[str, ReviewReport]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(review, SAMPLES / name, ReviewOptions(work_dir=work, limits=LIMITS.get(name, Limits())))
            for name, work in work_dirs.items()
        }
        return {name: future.result() for name, future in futures.items()}
