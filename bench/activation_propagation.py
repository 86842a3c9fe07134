#!/usr/bin/env python3
"""Benchmark: a plugin enabled or disabled for a tenant reaches every worker of a live server (issue 4).

Run from the repository root::

    .venv/bin/python bench/activation_propagation.py                     # PostgreSQL, a worker per core
    .venv/bin/python bench/activation_propagation.py --rounds 5 --rate 100
    .venv/bin/python bench/activation_propagation.py --sqlite --workers 2 # the version poll only

Set-up: a throwaway database (PostgreSQL: ``nentang_bench_<hex>`` created through ``--postgres-url`` and
dropped WITH (FORCE) at the end, even on error; ``--sqlite``: a file in a temporary folder), migrated,
with a small tenant tree (central → province → two communes). One throwaway plugin is installed as a
real distribution (package, manifest and ``*.dist-info``) in a temporary folder, approved in a temporary
``registry.toml``. Then ``nentang serve --workers N`` runs as a subprocess on a free loopback port with
``NENTANG_DATABASE_URL`` to that database, ``NENTANG_MODE=development`` and the plugin's folder on
``PYTHONPATH``.

Load: a thread of this process runs an asyncio loop with httpx at a steady ``--rate`` (requests per
second in all) of ``POST /graphql`` asking for the plugin's own field (``{ propbench_ping }``,
``X-Tenant: <commune>``): the answering worker shows the plugin enabled when the field answers
``"pong"``, disabled when its schema for the tenant has no such field. So a change counts as arrived
only once the worker's GraphQL schema for the tenant has it, not only its activation list
(``--probe route``: ``GET /t/<commune>/``, whose JSON lists under ``"plugins"`` what the worker
serves). Workers default to one per core, so that the server does not measure its own queueing on an
oversubscribed machine. Each worker is reached over ``--clients-per-worker`` keep-alive connections
of its own (connections are opened until every worker holds that many; the worker is read from the
diagnostic ``X-NenTang-Worker`` response header), and requests go round-robin over the workers, so each
worker is asked at rate/N. A request goes out on an idle connection of its worker; when all of them are
busy (the worker is saturated) that slot is skipped and counted, never queued, so that a request's times
are its own. Every response is recorded: when it was sent and received, which worker answered, its
status, and whether the plugin was shown. A failed request is a connection error, a timeout or a
status other than 200.

Changes: ``--rounds`` times, this process enables the plugin for the commune, then disables it, through
the kernel API on a kernel of its own (``ActivationService`` with ``checked=False``, the operator path).
The commit time is taken by a ``Database.on_commit`` listener, just after the COMMIT returned. For each
change and each worker, the **propagation time** is from that commit to the first response from that
worker showing the new state. The next change waits until every worker showed the state (or
``--settle-s`` passed: that worker's sample is then missing, and counted), then a random 0.2-0.6 s more,
so that changes land at every phase of the workers' 0.5 s version poll.

Floors, measured in the same run:

- **sampling floor** — the same measurement for a change that needs no propagation: from the commit to
  the first response from that worker to a request *sent* after the commit. No worker can show a change
  sooner than the load lets us see it, so this is the measurement's own resolution;
- **LISTEN/NOTIFY round trip** (PostgreSQL) — a bare connection LISTENs, another sends ``pg_notify`` in
  autocommit; from the sender's return to the listener's receipt.

Target (issue 4): p99 <= 1 s, zero failed requests. Everything started is stopped at the end (the server
gets SIGTERM, its process group SIGKILL only if it outstays ``--stop-timeout-s``), and the script checks
that none of the worker processes is left. The last line is always
``activation: workers=<N> p50_ms=<x> p99_ms=<x> failed=<n>``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy.engine import make_url

from nentang.kernel.identity.actor import Actor
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.plugins.approval import installed_files
from nentang.kernel.propagation import topics
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind

# bench/ is not a package, and the tests load this script by its path: _support is found through
# the script's own folder, whatever the working folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _activation_load import PLUGIN, Load, Response

from _support import met, percentile, postgres_unreachable, ratio, stop_process_group, throwaway_postgres

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TENANT_CODE = "00001"
OPERATOR = Actor.command_line()
#: Issue 4's target.
P99_TARGET_MS = 1000.0
SEED = 20250701
NOTIFY_CHANNEL = "nentang_bench_rtt"
#: ``nentang serve`` with this interpreter (the same environment as the benchmark).
SERVE = (sys.executable, "-m", "nentang.kernel.cli", "serve")
PLUGIN_CODE = """\
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class PropbenchQuery:
    @strawberry.field
    def propbench_ping(self) -> str:
        return "pong"


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(PropbenchQuery,))


@hookimpl
def nentang_plugin_enable(ctx, settings):
    return None


@hookimpl
def nentang_plugin_disable(ctx):
    return None
"""

Say = Any  # a print-like callable: say(line)


# -- pure helpers (tested in tests/test_bench_plugins.py) --------------------------------------


def format_last_line(workers: int, p50_ms: float, p99_ms: float, failed: int) -> str:
    return f"activation: workers={workers} p50_ms={p50_ms:.1f} p99_ms={p99_ms:.1f} failed={failed}"


@dataclass(frozen=True, slots=True)
class Change:
    """One enable or disable, committed at ``committed`` (``time.perf_counter()``)."""

    enabled: bool
    committed: float


@dataclass(frozen=True, slots=True)
class Sample:
    change: int
    worker: int
    #: Commit → first response from the worker showing the new state (``None``: never, before the next change).
    propagation_ms: float | None
    #: Commit → first response from the worker to a request sent after the commit (``None``: none).
    floor_ms: float | None
    #: Responses from the worker to requests sent after it first showed the new state, showing the old one.
    relapses: int


def samples(changes: Sequence[Change], responses: Sequence[Response], workers: Sequence[int]) -> list[Sample]:
    """Per change and worker: the propagation time, the sampling floor, and relapses (see the docstring).

    A change's window ends at the next change's commit (or never, for the last one).
    """
    by_worker: dict[int, list[Response]] = defaultdict(list)
    for response in responses:
        if response.ok and response.worker is not None:
            by_worker[response.worker].append(response)
    for listed in by_worker.values():
        listed.sort(key=lambda r: r.received)
    out = []
    for index, change in enumerate(changes):
        end = changes[index + 1].committed if index + 1 < len(changes) else math.inf
        for worker in workers:
            window = [r for r in by_worker.get(worker, ()) if change.committed <= r.received < end]
            shown = next((r for r in window if r.enabled is change.enabled), None)
            after = next((r for r in window if r.sent >= change.committed), None)
            relapses = (
                sum(1 for r in window if r.sent > shown.received and r.enabled is not change.enabled)
                if shown is not None
                else 0
            )
            out.append(
                Sample(
                    change=index,
                    worker=worker,
                    propagation_ms=(shown.received - change.committed) * 1000 if shown else None,
                    floor_ms=(after.received - change.committed) * 1000 if after else None,
                    relapses=relapses,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Dist:
    """A distribution of milliseconds; ``missing`` samples count as infinitely late."""

    ms: tuple[float, ...]
    missing: int = 0

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Dist:
        present = tuple(v for v in values if v is not None)
        return cls(present, len(values) - len(present))

    def _all(self) -> list[float]:
        return [*self.ms, *([math.inf] * self.missing)]

    @property
    def n(self) -> int:
        return len(self.ms) + self.missing

    @property
    def p50(self) -> float:
        return percentile(self._all(), 50) if self.n else math.nan

    @property
    def p99(self) -> float:
        return percentile(self._all(), 99) if self.n else math.nan

    @property
    def max(self) -> float:
        return max(self._all()) if self.n else math.nan


def dist_text(d: Dist) -> str:
    missing = f" missing={d.missing}" if d.missing else ""
    return f"p50={d.p50:.1f} p99={d.p99:.1f} max={d.max:.1f} n={d.n}{missing}"


# -- the throwaway plugin ------------------------------------------------------------------------


def install_plugin(site: Path, registry: Path, name: str = PLUGIN, version: str = "0.1.0") -> None:
    """Install plugin ``name`` into ``site`` as pip would leave it, and approve it in ``registry``."""
    package = site / f"nentang_{name}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN_CODE)
    (package / "nentang-plugin.toml").write_text(
        f'name = "{name}"\nversion = "{version}"\napi = ">=0.1,<0.2"\n'
        'levels = ["central", "province", "commune", "unit"]\n\n'
        '[title]\nvi = "Tiện ích đo lan truyền"\nen = "Propagation benchmark plugin"\n\n'
        '[description]\nvi = "Tiện ích tạm, bật tắt liên tục"\nen = "A throwaway plugin, switched on and off"\n'
    )
    info = site / f"nentang_{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: nentang-{name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[nentang.plugins]\n{name} = nentang_{name}.plugin\n")
    (info / "RECORD").write_text("")
    files = ", ".join(f'"{rel}" = "{digest}"' for rel, digest in installed_files(package).items())
    registry.write_text(
        f'schema = 1\n\n[[approved]]\nname = "{name}"\nversion = "{version}"\nwheel_sha256 = "{"0" * 64}"\n'
        f'reviewer = "bench"\nfiles = {{ {files} }}\n'
    )


def ping_token(kernel: Kernel) -> str:
    """An API token of the commune, for the load's GraphQL requests (a plugin field needs a caller)."""
    created = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code=TENANT_CODE, name="propbench", roles=["viewer"], expires_in_days=1
    )
    return created.plaintext


# -- databases -----------------------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    if args.sqlite:
        yield f"sqlite:///{folder / 'nentang.db'}"
        return
    reason = postgres_unreachable(args.postgres_url)
    if reason is not None:
        raise SystemExit(f"activation: PostgreSQL at {args.postgres_url} is not usable: {reason}")
    with throwaway_postgres(args.postgres_url) as url:
        yield url


def prepare(url: str, site: Path, registry: Path) -> Kernel:
    """This process's own kernel: migrate, seed a small tree, start (it sees the plugin); caller closes."""
    settings = Settings(
        database_url=url,
        mode="development",
        registry_path=registry,
        plugin_path=(str(site),),
        log_json=True,
        log_level="WARNING",
    )
    kernel = create_kernel(settings)
    try:
        kernel.upgrade_database()
        actor = Actor.system("bench")
        tenants = kernel.tenants
        tenants.create(code="TW", name="Trung ương", kind=TenantKind.CENTRAL, parent_code=None, actor=actor)
        tenants.create(code="01", name="Tỉnh đo thử", kind=TenantKind.PROVINCE, parent_code="TW", actor=actor)
        tenants.create(code=TENANT_CODE, name="Xã đo thử", kind=TenantKind.COMMUNE, parent_code="01", actor=actor)
        tenants.create(code="00002", name="Xã bên cạnh", kind=TenantKind.COMMUNE, parent_code="01", actor=actor)
        kernel.start()
        if PLUGIN not in kernel.plugins.host.plugins:
            raise RuntimeError(f"the bench kernel did not register {PLUGIN!r}: {kernel.plugins.host.quarantined}")
    except BaseException:
        kernel.close()
        raise
    return kernel


def notify_round_trips(url: str, count: int) -> tuple[float, ...]:
    """Bare LISTEN/NOTIFY, in ms: from calling ``pg_notify`` (autocommit) to the listener's receipt.

    Timed from the call, not its return: the listener (another thread) may hear it first."""
    import psycopg  # PostgreSQL only

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    received: list[float] = []
    ready = threading.Event()

    def listen() -> None:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            ready.set()
            for _ in connection.notifies(timeout=count * 2.0 + 5, stop_after=count):
                received.append(time.perf_counter())

    listener = threading.Thread(target=listen, name="bench-notify-listener", daemon=True)
    listener.start()
    if not ready.wait(10):
        raise RuntimeError("the LISTEN connection did not come up")
    sent = []
    with psycopg.connect(libpq, autocommit=True) as connection:
        for i in range(count):
            expected = len(received) + 1
            sent.append(time.perf_counter())
            connection.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(i)))
            deadline = time.monotonic() + 2.0
            while len(received) < expected and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(0.01)
    listener.join(timeout=count * 2.0 + 10)
    return tuple((r - s) * 1000 for s, r in zip(sent, received, strict=False))


# -- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(url: str, site: Path, registry: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NENTANG_")}
    env |= {
        "NENTANG_DATABASE_URL": url,
        "NENTANG_MODE": "development",
        "NENTANG_REGISTRY": str(registry),
        "NENTANG_LOG_LEVEL": "WARNING",
        "NENTANG_LOG_FORMAT": "json",
        "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    #: Whether stopping needed SIGKILL: the server outstayed the graceful stop, or workers outlived it.
    killed: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def serving(env: dict[str, str], workers: int, folder: Path, stop_timeout_s: float) -> Iterator[Server]:
    """``nentang serve --workers N`` on a free loopback port, in a process group of its own; stopped after."""
    port = free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(process, log, port)
    try:
        yield server
    finally:
        stop(server, stop_timeout_s)


def stop(server: Server, timeout_s: float) -> None:
    """SIGTERM (uvicorn stops its workers), then SIGKILL to the group if it outstays ``timeout_s``."""
    if stop_process_group(server.process, timeout_s):
        server.killed = True


def pids_alive(pids: Sequence[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return alive


# -- the changes -----------------------------------------------------------------------------------


class CommitClock:
    """When this process last committed an activation change (a ``Database.on_commit`` listener)."""

    def __init__(self) -> None:
        self.last: float | None = None

    def __call__(self, changes: list[Any]) -> None:
        if any(change[0] == topics.ACTIVATION for change in changes):
            self.last = time.perf_counter()


def toggle(kernel: Kernel, clock: CommitClock, enabled: bool) -> Change:
    clock.last = None
    activation = kernel.plugins.activation
    if enabled:
        activation.enable(actor=OPERATOR, plugin=PLUGIN, tenant_code=TENANT_CODE, checked=False)
    else:
        activation.disable(actor=OPERATOR, plugin=PLUGIN, tenant_code=TENANT_CODE, checked=False)
    if clock.last is None:
        raise RuntimeError("the activation change committed without telling the on_commit listeners")
    return Change(enabled, clock.last)


def wait_until_served(load: Load, change: Change, workers: Sequence[int], settle_s: float) -> bool:
    """Until every worker answered with the change's state after its commit (or ``settle_s`` passed)."""
    deadline = time.perf_counter() + settle_s
    waiting = set(workers)
    seen = 0
    while waiting and time.perf_counter() < deadline:
        responses = load.responses
        fresh, seen = responses[seen:], len(responses)
        for r in fresh:
            if r.ok and r.received >= change.committed and r.enabled is change.enabled:
                waiting.discard(r.worker)  # type: ignore[arg-type]  # ok implies a worker
        time.sleep(0.005)
    return not waiting


# -- one run ---------------------------------------------------------------------------------------


@dataclass
class Figures:
    workers: int
    dialect: str
    rate: float
    changes: list[Change] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    connected: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, int] = field(default_factory=dict)
    notify_ms: tuple[float, ...] = ()
    load_s: float = 0.0
    server: Server | None = None
    strays: list[int] = field(default_factory=list)

    @property
    def failed(self) -> list[Response]:
        return [r for r in self.responses if not r.ok]


def run(args: argparse.Namespace, say: Say) -> Figures:
    figures = Figures(workers=args.workers, dialect="sqlite" if args.sqlite else "postgres", rate=args.rate)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="nentang-activation-bench-") as tmp:
        folder = Path(tmp)
        site, registry = folder / "site", folder / "registry.toml"
        install_plugin(site, registry)
        sys.path.insert(0, str(site))
        try:
            with database(args, folder) as url:
                kernel = prepare(url, site, registry)
                try:
                    clock = CommitClock()
                    kernel.db.on_commit(clock)
                    measure(args, figures, kernel, clock, url, folder, rng, say)
                finally:
                    kernel.close()
        finally:
            sys.path.remove(str(site))
            for module in [m for m in sys.modules if m.split(".")[0] == f"nentang_{PLUGIN}"]:
                del sys.modules[module]
    return figures


def measure(
    args: argparse.Namespace,
    figures: Figures,
    kernel: Kernel,
    clock: CommitClock,
    url: str,
    folder: Path,
    rng: random.Random,
    say: Say,
) -> None:
    env = server_env(url, folder / "site", folder / "registry.toml")
    started = time.monotonic()
    with serving(env, args.workers, folder, args.stop_timeout_s) as server:
        figures.server = server
        graphql = args.probe == "graphql"
        load = Load(
            server.base_url,
            "/graphql" if graphql else f"/t/{TENANT_CODE}/",
            graphql=graphql,
            token=ping_token(kernel) if graphql else "",
            workers=args.workers,
            rate=args.rate,
            per_worker=args.clients_per_worker,
            timeout_s=args.request_timeout_s,
        )
        try:
            load.start(timeout_s=args.start_timeout_s)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- server log (tail) ---\n{server.tail()}") from exc
        say(
            f"activation: server up in {time.monotonic() - started:.1f} s; {args.workers} workers "
            f"{load.workers_seen}, {args.clients_per_worker} keep-alive connection(s) each "
            f"({load.attempts} opened to get them); load {args.rate:g} req/s"
        )
        load_started = time.perf_counter()
        try:
            time.sleep(args.warmup_s)
            if not args.sqlite:
                figures.notify_ms = notify_round_trips(url, args.notify_samples)
            for round_ in range(args.rounds):
                for enabled in (True, False):
                    change = toggle(kernel, clock, enabled)
                    figures.changes.append(change)
                    if not wait_until_served(load, change, load.workers_seen, args.settle_s):
                        say(f"activation: round {round_ + 1}: a worker did not serve the change in {args.settle_s:g} s")
                    time.sleep(rng.uniform(0.2, 0.6))
        finally:
            load.stop()
            figures.load_s = time.perf_counter() - load_started
            figures.responses = list(load.responses)
            figures.connected = dict(load.connected)
            figures.skipped = dict(load.skipped)
    # the server's context has exited: every worker that answered must be gone
    figures.strays = pids_alive(list(figures.connected))


# -- reporting -----------------------------------------------------------------------------------


def summary_lines(f: Figures) -> list[str]:
    workers = sorted(f.connected)
    found = samples(f.changes, f.responses, workers)
    propagation = Dist.of([s.propagation_ms for s in found])
    floor = Dist.of([s.floor_ms for s in found])
    failed = f.failed
    ok = [r for r in f.responses if r.ok]
    latency = Dist.of([(r.received - r.sent) * 1000 for r in ok])
    share = Counter(r.worker for r in ok)
    relapses = sum(s.relapses for s in found)
    lines = [
        f"activation: {f.dialect}, {len(f.changes)} changes ({len(f.changes) // 2} enable + disable rounds) x "
        f"{len(workers)} workers = {len(found)} samples",
        f"load: {len(f.responses)} requests in {f.load_s:.1f} s ({len(f.responses) / f.load_s if f.load_s else 0:.0f} "
        f"req/s, asked {f.rate:g}); per worker " + ", ".join(f"{w}: {share[w]}" for w in workers),
        f"load: {sum(f.skipped.values())} request slots skipped (every connection to the worker still busy: "
        "saturated, not queued)",
        f"load: response time ms {dist_text(latency)}",
    ]
    for worker in workers:
        mine = Dist.of([s.propagation_ms for s in found if s.worker == worker])
        lines.append(f"propagation: worker {worker}: ms {dist_text(mine)}")
    lines += [
        f"propagation: all workers: ms {dist_text(propagation)} target p99<={P99_TARGET_MS:g}ms: "
        f"{met(propagation.p99 <= P99_TARGET_MS)}",
        f"floor (no propagation needed: commit -> that worker's first answer to a request sent after the "
        f"commit): ms {dist_text(floor)}; ratio p50={ratio(propagation.p50, floor.p50):.2f} "
        f"p99={ratio(propagation.p99, floor.p99):.2f} (below 1: requests already in flight at the commit "
        "showed the change)",
    ]
    if f.notify_ms:
        notify = Dist.of(list(f.notify_ms))
        lines.append(
            f"floor (bare LISTEN/NOTIFY round trip, during the load): ms {dist_text(notify)}; "
            f"ratio p50={ratio(propagation.p50, notify.p50):.1f} p99={ratio(propagation.p99, notify.p99):.1f}"
        )
    else:
        lines.append("floor (bare LISTEN/NOTIFY round trip): not on SQLite (workers poll the version every 0.5 s)")
    kinds = Counter((r.error or f"status {r.status}").split(":")[0] for r in failed)
    lines += [
        f"failed requests: {len(failed)} target 0: {met(not failed)}"
        + (f" ({', '.join(f'{k}: {n}' for k, n in kinds.most_common())})" if failed else ""),
        f"relapses (a worker showing the old state again after it showed the new one): {relapses}",
        "shutdown: "
        + (
            f"server stopped{' (SIGKILL needed)' if f.server and f.server.killed else ' cleanly'}; "
            + (f"STRAY processes left: {f.strays}" if f.strays else "no worker process left")
        ),
        format_last_line(len(workers) or f.workers, propagation.p50, propagation.p99, len(failed)),
    ]
    return lines


# -- entry point -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="activation_propagation.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", action="store_true", help="a throwaway database on --postgres-url (the default)")
    where.add_argument("--sqlite", action="store_true", help="a SQLite file in a temporary folder (version poll only)")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"PostgreSQL server, used only to create and drop a database of its own (default: {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server worker processes (default: one per core)"
    )
    parser.add_argument(
        "--probe",
        choices=("graphql", "route"),
        default="graphql",
        help="what each worker is asked: the plugin's GraphQL field (default) or the tenant route's list",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all workers (default: 200)")
    parser.add_argument("--rounds", type=int, default=20, help="enable-then-disable rounds (default: 20)")
    parser.add_argument("--clients-per-worker", type=int, default=3, help="keep-alive connections (default: 3)")
    parser.add_argument("--warmup-s", type=float, default=2.0, help="load before the first change (default: 2)")
    parser.add_argument("--settle-s", type=float, default=5.0, help="longest wait for a change (default: 5)")
    parser.add_argument("--notify-samples", type=int, default=30, help="LISTEN/NOTIFY round trips (default: 30)")
    parser.add_argument("--request-timeout-s", type=float, default=10.0, help="per request (default: 10)")
    parser.add_argument("--start-timeout-s", type=float, default=120.0, help="server start-up (default: 120)")
    parser.add_argument("--stop-timeout-s", type=float, default=20.0, help="graceful stop (default: 20)")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 32:
        parser.error(f"--workers must be between 1 and 32, not {args.workers}")
    if not 1 <= args.rate <= 5000:
        parser.error(f"--rate must be between 1 and 5000, not {args.rate}")
    if not 1 <= args.rounds <= 1000:
        parser.error(f"--rounds must be between 1 and 1000, not {args.rounds}")
    if not 1 <= args.clients_per_worker <= 16:
        parser.error("--clients-per-worker must be between 1 and 16")
    for name in ("warmup_s", "settle_s", "request_timeout_s", "start_timeout_s", "stop_timeout_s"):
        if getattr(args, name) < 0 or (name != "warmup_s" and getattr(args, name) == 0):
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.notify_samples < 1:
        parser.error("--notify-samples must be at least 1")
    if not args.sqlite and not args.postgres_url.startswith("postgresql"):
        parser.error(f"--postgres-url must be a postgresql:// URL, not {args.postgres_url!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    saved_logging = structlog.get_config()
    configure_logging(json=True, level="WARNING")
    try:

        def say(line: str) -> None:
            print(line, flush=True)

        say(
            f"activation: python {sys.version.split()[0]}, httpx {httpx.__version__}, "
            f"{'sqlite' if args.sqlite else 'postgres'}, {args.workers} workers, {args.rate:g} req/s, "
            f"{args.rounds} rounds, {os.cpu_count()} cpus, probe {args.probe}"
        )
        if args.workers > (os.cpu_count() or 1):
            say(f"activation: note: {args.workers} workers on {os.cpu_count()} cores: the figures include queueing")
        figures = run(args, say)
        for line in summary_lines(figures):
            say(line)
    finally:
        structlog.configure(**saved_logging)
    return 0


if __name__ == "__main__":
    sys.exit(main())
