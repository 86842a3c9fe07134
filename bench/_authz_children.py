"""bench/authz_scale.py, its child processes: the script run again as a builder, a second worker,
the propagation floor's bare listener, or a stock pycasbin enforcer, talking JSON lines."""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.kernel.runtime import create_kernel

from _authz_population import bench_settings

CHILD_FLAG = "--bench-child"
MARK = "@@bench "
#: The script a child runs: the entry point, whose ``main`` dispatches on :data:`CHILD_FLAG`.
SCRIPT = Path(__file__).resolve().parent / "authz_scale.py"
#: The kernel's version-poll interval (the bound on propagation where there is no LISTEN/NOTIFY).
POLL_INTERVAL_S: float = inspect.signature(ChangeWatcher).parameters["poll_interval"].default
#: How long the spinning child sleeps between two checks.
SPIN_SLEEP_S = 0.0002
WATCH_TIMEOUT_S = 10.0


class ChildFailed(RuntimeError):
    pass


class Child:
    """This script run again as a child (``--bench-child KIND ...``), talking JSON lines marked
    with :data:`MARK` on stdout; stderr goes to a file that is quoted when the child fails."""

    def __init__(self, kind: str, args: Sequence[str], folder: Path) -> None:
        self.kind = kind
        self._stderr_path = folder / f"child-{kind}-{uuid.uuid4().hex[:8]}.err"
        self._stderr = open(self._stderr_path, "w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), CHILD_FLAG, kind, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"bench-child-{kind}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            if line.startswith(MARK):
                self._lines.put(line[len(MARK) :])
        self._lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        if self.proc.stdin is None:
            raise ChildFailed(f"{self.kind} child has no input")
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ChildFailed(f"{self.kind} child: no answer within {timeout:g} s{self._tail()}") from None
        if line is None:
            self.proc.wait(timeout=10)
            raise ChildFailed(f"{self.kind} child exited with status {self.proc.returncode}{self._tail()}")
        message: dict[str, Any] = json.loads(line)
        return message

    def _tail(self) -> str:
        self._stderr.flush()
        lines = self._stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return (": " + " | ".join(lines[-5:])) if lines else ""

    def close(self) -> None:
        """End the child (a worker ends when its input does; a stuck one is killed) and its pipes."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


def emit(message: dict[str, Any]) -> None:
    print(MARK + json.dumps(message), flush=True)


def run_worker(database_url: str) -> None:
    """A second worker: its own kernel, started; flips are seen through its caches only."""
    kernel = create_kernel(bench_settings(database_url))
    kernel.start()
    try:
        emit({"ready": True})
        check = kernel.authz.check
        for line in sys.stdin:
            message = json.loads(line)
            principal, tenant, permission = message["principal"], message["tenant"], message["permission"]
            emit({"armed": check(principal, tenant, permission)})
            emit({"seen": _spin(partial(_answer_is, check, principal, tenant, permission, message["expect"]))})
    finally:
        kernel.close()


def run_floor_worker(database_url: str) -> None:
    """The propagation floor: a bare connection that learns of a commit as cheaply as the kernel's design
    allows — LISTEN on PostgreSQL, a poll of one row every :data:`POLL_INTERVAL_S` on SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        import psycopg  # PostgreSQL only

        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute("LISTEN bench_floor")
            emit({"ready": True})
            for _line in sys.stdin:
                emit({"armed": False})
                seen = None
                for _note in connection.notifies(timeout=WATCH_TIMEOUT_S, stop_after=1):
                    seen = time.monotonic()
                emit({"seen": seen})
        return
    import sqlite3

    connection = sqlite3.connect(url.database or "", isolation_level=None)
    read = "SELECT v FROM bench_floor_version"
    try:
        emit({"ready": True})
        origin = time.monotonic()  # polls on a fixed cadence from here, as the kernel's watcher thread does
        for _line in sys.stdin:
            before = connection.execute(read).fetchone()[0]
            emit({"armed": False})
            deadline = time.monotonic() + WATCH_TIMEOUT_S
            seen = None
            while time.monotonic() < deadline:
                ticks = math.floor((time.monotonic() - origin) / POLL_INTERVAL_S) + 1
                time.sleep(max(origin + ticks * POLL_INTERVAL_S - time.monotonic(), 0))
                if connection.execute(read).fetchone()[0] != before:
                    seen = time.monotonic()
                    break
            emit({"seen": seen})
    finally:
        connection.close()


def _answer_is(
    check: Callable[[str, int, str], bool], principal: str, tenant: int, permission: str, want: bool
) -> bool:
    return check(principal, tenant, permission) == want


def _spin(flipped: Callable[[], bool]) -> float | None:
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if flipped():
            return time.monotonic()
        time.sleep(SPIN_SLEEP_S)
    return None
