"""Helpers the benchmark scripts share: statistics, a throwaway PostgreSQL database, process groups.

``bench/`` is not a package: each script puts its own folder on ``sys.path`` before importing this
module (the tests load the scripts by file path), so a script keeps working from any working folder.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

import sqlalchemy as sa
from sqlalchemy.engine import make_url

# -- figures -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``pct`` % of values at or below it."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {pct}")
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 else math.inf


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def timer_overhead_ns(samples: int = 20_000) -> int:
    """The median cost of one ``perf_counter_ns`` pair, subtracted from every timed call."""
    ns = time.perf_counter_ns
    values = []
    for _ in range(samples):
        t0 = ns()
        t1 = ns()
        values.append(t1 - t0)
    return int(statistics.median(values))


def time_calls(
    fn: Callable[[str, int, str], bool], calls: Sequence[tuple[str, int, str]], overhead_ns: int
) -> tuple[list[float], list[bool]]:
    """Each call timed on its own; returns durations in µs (timer overhead subtracted) and answers."""
    ns = time.perf_counter_ns
    durations: list[int] = []
    answers: list[bool] = []
    for principal, tenant_id, permission in calls:
        t0 = ns()
        answer = fn(principal, tenant_id, permission)
        t1 = ns()
        durations.append(t1 - t0)
        answers.append(answer)
    return [max(d - overhead_ns, 0) / 1000 for d in durations], answers


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (``/proc``); the peak from ``getrusage`` where there is no ``/proc``."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        if pid != "self":
            return 0.0
    import resource  # not on every platform; only the fallback needs it

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settled_rss_mb() -> float:
    gc.collect()
    return rss_mb()


# -- PostgreSQL ----------------------------------------------------------------------------------


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used at ``admin_url``, or ``None`` when it answers."""
    try:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    except Exception as exc:  # a bad URL or a missing driver: report it as the reason
        return f"{type(exc).__name__}: {exc}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable" here
        cause = getattr(exc, "orig", None) or exc  # the driver's own error, without SQLAlchemy's wrapping
        lines = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {lines[0] if lines else 'no detail'}"
    finally:
        engine.dispose()
    return None


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A database of its own, next to the one ``admin_url`` names; dropped even on error."""
    name = f"nentang_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- process groups ------------------------------------------------------------------------------


def stop_process_group(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """SIGTERM ``process`` (started with ``start_new_session=True``), then SIGKILL its whole group if
    it, or anything it started, outstays ``timeout_s``. Returns whether the group had to be killed.
    Only this one group is signalled, by its id: nothing else on the machine is touched."""
    killed = False
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            killed = True
            _kill_group(process.pid)
            process.wait(timeout=10)
    # what it started is in its process group (its own session): none may outlive it
    if not _group_gone(process.pid, timeout_s):
        killed = True
        _kill_group(process.pid)
        _group_gone(process.pid, 10.0)  # killed processes vanish once reaped
    return killed


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@contextmanager
def throwaway_login_role(admin_url: str) -> Iterator[str]:
    """A login role of its own, like production's application login (``LOGIN NOBYPASSRLS``, no
    superuser): its name; dropped on exit. The caller grants it the app role once migrations made it."""
    name = f"nentang_bench_web_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        try:
            yield name
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def as_login(url: str, role: str) -> str:
    """``url`` logging in as ``role`` instead (no password: a loopback server that trusts it)."""
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)
