"""Upgrading a plugin under traffic: a real ``nentang serve --workers 2`` upgraded by ``kill -HUP``.

The server runs as a subprocess on loopback, on a database of its own (a migrated SQLite file, or a
PostgreSQL database created for the test) with a tenant that has the plugin enabled. Two clients
keep sending requests at a steady rate — one opening a connection per request, one reusing a
keep-alive connection, as a load balancer does — while the plugin is upgraded on disk from 0.1.0
to 0.2.0 and the supervisor gets SIGHUP. The test waits until every worker has been replaced and
reports 0.2.0 on ``/readyz``, and asserts that no request failed, that the supervisor never had
fewer than two live workers (each replacement starts before its predecessor stops), and that
SIGTERM afterwards leaves no process behind. See docs/plugins-operations.md.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from nentang.kernel.cli import serve as serve_module
from nentang.kernel.cli.main import app
from tests.conftest import ON_POSTGRES, POSTGRES_URL, TEST_SECRETS_KEY
from tests.plugin_factory import PluginFactory

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="watches the workers through /proc")

WORKERS = 2
TENANT = "01"
PLUGIN = "rolling"
#: Seconds between two requests of one client (about 50 requests per second per client).
INTERVAL = 0.02
#: Generous: a worker imports the kernel (2-3 s) and several start at once on a busy CI host.
START_DEADLINE = 90.0
RESTART_DEADLINE = 120.0

PLUGIN_CODE = """
from nentang.sdk import hookimpl

RELEASE = {release!r}


@hookimpl
def nentang_plugin_enable(ctx, settings):
    pass
"""


# -- the database and the server ---------------------------------------------------------------


@pytest.fixture
def server_database(tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (the server's workers open their own connections)."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'rolling.db'}"
        return
    admin_url = make_url(POSTGRES_URL)
    name = f"nentang_rolling_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def nentang(env: dict[str, str], *args: str) -> str:
    """Run a ``nentang`` command in process (as an operator would before starting the server)."""
    saved = structlog.get_config()
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        structlog.configure(**saved)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_state(pid: int) -> tuple[str, int, bytes] | None:
    """(state, parent pid, command line) of a live process, from /proc; ``None`` once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, not yet reaped: gone for our purposes
        return None
    return fields[0], int(fields[1]), cmdline


def children(pid: int) -> dict[int, bytes]:
    """The live child processes of ``pid`` with their command lines."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = process_state(int(entry))
            if info is not None and info[1] == pid:
                found[int(entry)] = info[2]
    return found


def workers(pid: int) -> set[int]:
    """uvicorn's worker processes (spawned children), leaving out multiprocessing's resource tracker."""
    return {child for child, cmdline in children(pid).items() if b"spawn_main" in cmdline}


def leftovers(pids: set[int]) -> dict[int, bytes]:
    """Those of ``pids`` still running as one of the server's processes (a reused pid is someone else)."""
    found = {}
    for pid in pids:
        info = process_state(pid)
        if info is not None and (b"multiprocessing" in info[2] or b"nentang.kernel.cli" in info[2]):
            found[pid] = info[2]
    return found


# -- traffic ------------------------------------------------------------------------------------


@dataclass
class Traffic:
    """Requests at a steady rate from one thread; every failure is kept with what it was."""

    port: int
    keep_alive: bool
    stop: threading.Event
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    #: Monotonic times of successful requests (to show that traffic flowed during the restart).
    times: list[float] = field(default_factory=list)

    def run(self) -> None:
        client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10) if self.keep_alive else None
        paths = [f"/t/{TENANT}/", "/healthz"]
        i = 0
        try:
            while not self.stop.is_set():
                path = paths[i % 2]
                i += 1
                try:
                    status, body = self._get(client, path)
                except (OSError, http.client.HTTPException, httpx.HTTPError) as exc:
                    self.failures.append(f"{path}: {type(exc).__name__}: {exc}")
                else:
                    if status != 200:
                        self.failures.append(f"{path}: HTTP {status}: {body[:300]!r}")
                    elif path.startswith("/t/") and PLUGIN not in json.loads(body)["plugins"]:
                        self.failures.append(f"{path}: the plugin is missing from {body[:300]!r}")
                    else:
                        self.ok += 1
                        self.times.append(time.monotonic())
                self.stop.wait(INTERVAL)
        finally:
            if client is not None:
                client.close()

    def _get(self, client: httpx.Client | None, path: str) -> tuple[int, bytes]:
        if client is not None:
            response = client.get(path)
            return response.status_code, response.content
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)  # a new connection each time
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def readyz(port: int) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def running(port: int) -> object:
    """The version of the plugin that the worker answering ``/readyz`` runs."""
    plugins = readyz(port)[1]["plugins"]
    assert isinstance(plugins, dict)
    return plugins.get(PLUGIN)


def wait_until(condition, deadline: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if condition():
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}; server log:\n{log.read_text()[-4000:]}")


# -- the tests ----------------------------------------------------------------------------------


def test_serve_gives_a_new_worker_time_to_start_and_bounds_a_graceful_stop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uvicorn's defaults (5 s to start a replacement, no limit on a stop) abandon or stall a roll."""
    handed: list[dict[str, object]] = []
    monkeypatch.setattr(serve_module.uvicorn, "run", lambda target, **kwargs: handed.append(kwargs))
    env = {
        "NENTANG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "NENTANG_LOG_FORMAT": "console",
        # production, the default, serves only with a secrets key and an absolute registry path
        "NENTANG_SECRETS_KEY": TEST_SECRETS_KEY,
        "NENTANG_REGISTRY": str(tmp_path / "registry.toml"),
    }
    nentang(env, "serve", "--workers", "2")
    nentang(env, "serve", "--workers", "3", "--worker-start-timeout", "120", "--graceful-timeout", "5")
    assert [(h["timeout_worker_healthcheck"], h["timeout_graceful_shutdown"]) for h in handed] == [(60, 30), (120, 5)]


def test_a_plugin_upgrade_rolls_through_the_workers_with_zero_failed_requests(
    server_database: str, plugin_factory: PluginFactory, tmp_path: Path
) -> None:
    registry = tmp_path / "registry.toml"
    plugin_factory.make(PLUGIN, PLUGIN_CODE.format(release="0.1.0"), version="0.1.0")
    env = {
        "NENTANG_DATABASE_URL": server_database,
        "NENTANG_MODE": "development",
        "NENTANG_REGISTRY": str(registry),
        "NENTANG_LOG_FORMAT": "console",
        "NENTANG_LOG_LEVEL": "WARNING",
    }
    nentang(env, "db", "upgrade")
    nentang(env, "tenant", "create", "TW", "Trung ương", "--kind", "central")
    nentang(env, "tenant", "create", TENANT, "Thành phố Hà Nội", "--kind", "province", "--parent", "TW")
    nentang(env, "plugin", "enable", PLUGIN, "--tenant", TENANT)

    port = free_port()
    log = tmp_path / "server.log"
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("NENTANG_")}
    server_env.update(env)
    server_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_factory.root), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "nentang.kernel.cli", "serve", "--workers", str(WORKERS), "--port", str(port)]
    seen: set[int] = set()  # every process the server ever had, to prove none is left behind
    started_at = time.monotonic()
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            command, env=server_env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: len(workers(server.pid)) == WORKERS, START_DEADLINE, "the workers to start", log)
        wait_until(lambda: readyz(port)[0] == 200, START_DEADLINE, "the server to be ready", log)
        assert {running(port) for _ in range(10)} == {"0.1.0"}
        ready_at = time.monotonic()
        old = workers(server.pid)
        seen |= set(children(server.pid))

        stop = threading.Event()
        clients = [Traffic(port, keep_alive=False, stop=stop), Traffic(port, keep_alive=True, stop=stop)]
        threads = [threading.Thread(target=c.run, name=f"traffic-{c.keep_alive}") for c in clients]
        alive_workers: list[int] = []  # how many worker processes were alive, sampled through the restart

        def sample() -> None:
            while not stop.is_set():
                alive = children(server.pid)
                seen.update(alive)
                alive_workers.append(len([p for p, cmd in alive.items() if b"spawn_main" in cmd]))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, name="worker-sampler")
        for thread in [*threads, sampler]:
            thread.start()
        try:
            time.sleep(1.0)
            # the upgrade as an installer leaves it: new files and metadata, the old metadata gone
            for info in plugin_factory.root.glob(f"nentang_{PLUGIN}-*.dist-info"):
                for item in info.iterdir():
                    item.unlink()
                info.rmdir()
            plugin_factory.make(PLUGIN, PLUGIN_CODE.format(release="0.2.0"), version="0.2.0")

            hup_at = time.monotonic()
            server.send_signal(signal.SIGHUP)
            wait_until(
                lambda: not (workers(server.pid) & old) and len(workers(server.pid)) == WORKERS,
                RESTART_DEADLINE,
                "every worker to be replaced",
                log,
            )
            restarted_at = time.monotonic()
            versions = {running(port) for _ in range(10)}
            assert versions == {"0.2.0"}, versions
            time.sleep(1.0)
        finally:
            stop.set()
            for thread in [*threads, sampler]:
                thread.join(timeout=30)

        failures = [f for c in clients for f in c.failures]
        assert failures == [], (
            f"{len(failures)} failed requests: {failures[:10]}\nserver log:\n{log.read_text()[-3000:]}"
        )
        for client in clients:  # requests were answered all through the restart, not only around it
            during = [t for t in client.times if hup_at <= t <= restarted_at]
            assert len(during) >= restarted_at - hup_at, (client.keep_alive, len(during))  # >= 1 per second
        assert min(alive_workers) >= WORKERS, "an old worker stopped before its replacement had started"
        assert max(alive_workers) == WORKERS + 1, "the workers were not replaced one at a time"
        assert "aborting the restart" not in log.read_text()

        seen |= set(children(server.pid))
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()[-3000:]
        # the supervisor reaped its workers; multiprocessing's resource tracker exits when its pipe closes
        end = time.monotonic() + 10
        while leftovers(seen) and time.monotonic() < end:
            time.sleep(0.1)
        assert leftovers(seen) == {}, "processes left behind"
        stopped_at = time.monotonic()
        print(
            f"rolling restart: ready in {ready_at - started_at:.1f} s, {WORKERS} workers replaced in "
            f"{restarted_at - hup_at:.1f} s, stopped in {stopped_at - restarted_at - 1:.1f} s; "
            f"{sum(c.ok for c in clients)} requests, 0 failed"
        )
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        for pid in leftovers(seen):
            os.kill(pid, signal.SIGKILL)
