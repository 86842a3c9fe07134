"""The load of ``activation_propagation.py``: a steady stream of requests to every worker of the
server, each answer recorded with whether it showed the throwaway plugin (see that script's docstring)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import httpx

from nentang.kernel.http.middleware.worker_id import WORKER_HEADER

PLUGIN = "propbench"
#: The plugin's GraphQL field, asked of every worker: it exists in the tenant's schema only while enabled.
PING = {"query": "{ propbench_ping }"}
#: What a GraphQL validation error says of a field the schema does not have (graphql-core's wording).
UNKNOWN_FIELD = "Cannot query field 'propbench_ping'"


@dataclass(frozen=True, slots=True)
class Response:
    """One request of the load, as the load generator saw it (times: ``time.perf_counter()``)."""

    sent: float
    received: float
    worker: int | None = None
    status: int | None = None
    #: Whether the plugin was in the response's "plugins" (``None``: no usable body).
    enabled: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.worker is not None and self.enabled is not None


class Load:
    """A steady stream of requests over per-worker keep-alive connections, in a thread of its own:
    ``GET path`` (the tenant route's list), or with ``graphql`` the plugin's field asked at ``path``."""

    def __init__(
        self,
        base_url: str,
        path: str,
        *,
        workers: int,
        rate: float,
        per_worker: int,
        timeout_s: float,
        graphql: bool = False,
        token: str = "",
    ) -> None:
        self.base_url = base_url
        self.path = path
        self.graphql = graphql
        #: A plugin's fields need a caller: an API token of the commune (``ping_token``).
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.workers = workers
        self.rate = rate
        self.per_worker = per_worker
        self.timeout_s = timeout_s
        self.responses: list[Response] = []
        self.connected: dict[int, int] = {}
        #: Request slots not used because every connection to that worker was still busy.
        self.skipped: Counter[int] = Counter()
        self.attempts = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="bench-load", daemon=True)

    def start(self, timeout_s: float) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self._stop.set()
            raise RuntimeError(f"the load did not reach all {self.workers} workers within {timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the load could not start: {self._error}") from self._error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 30)
        if self._error is not None:
            raise RuntimeError(f"the load failed: {self._error}") from self._error

    @property
    def workers_seen(self) -> list[int]:
        return sorted(self.connected)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by start() or stop()
            self._error = exc
        finally:
            self._ready.set()

    async def _connect(self, deadline: float) -> dict[int, list[httpx.AsyncClient]]:
        """Open one-connection clients until every worker holds ``per_worker`` of them."""
        buckets: dict[int, list[httpx.AsyncClient]] = defaultdict(list)
        limit = 50 * self.workers * self.per_worker
        while not self._stop.is_set() and time.monotonic() < deadline and self.attempts < limit:
            full = [w for w, b in buckets.items() if len(b) >= self.per_worker]
            if len(full) >= self.workers:
                break
            self.attempts += 1
            client = httpx.AsyncClient(
                base_url=self.base_url,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=None),
                timeout=httpx.Timeout(self.timeout_s, pool=None),
            )
            try:
                response = await self._ask(client)
                worker = int(response.headers[WORKER_HEADER])
                if response.status_code != 200:
                    raise RuntimeError(f"GET {self.path} answered {response.status_code}: {response.text[:200]}")
            except (httpx.TransportError, KeyError, ValueError):
                await client.aclose()
                await asyncio.sleep(0.2)  # the workers are still starting
                continue
            except BaseException:
                await client.aclose()
                raise
            if len(buckets[worker]) < self.per_worker:
                buckets[worker].append(client)
            else:
                await client.aclose()
            if len(buckets) > self.workers:
                raise RuntimeError(f"more workers answered ({sorted(buckets)}) than the {self.workers} started")
        return buckets

    async def _run(self) -> None:
        buckets = await self._connect(time.monotonic() + 120)
        try:
            self.connected = {worker: len(clients) for worker, clients in buckets.items()}
            if len(buckets) < self.workers or any(len(b) < self.per_worker for b in buckets.values()):
                raise RuntimeError(
                    f"after {self.attempts} connections the workers hold {self.connected}; "
                    f"wanted {self.per_worker} connection(s) on each of {self.workers} workers"
                )
            self._ready.set()
            await self._steady(buckets)
        finally:
            for clients in buckets.values():
                for client in clients:
                    await client.aclose()

    async def _steady(self, buckets: dict[int, list[httpx.AsyncClient]]) -> None:
        """Request ``i`` is due at ``i / rate`` s and goes to worker ``i mod N``, on one of its idle
        connections; when all of them are busy (the worker is saturated) the slot is skipped, not queued,
        so that a request's times are its own and not a queue's."""
        idle = {worker: list(clients) for worker, clients in buckets.items()}
        workers = sorted(idle)
        pending: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.rate
        started = time.perf_counter()
        i = 0
        while not self._stop.is_set():
            delay = started + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            worker = workers[i % len(workers)]
            i += 1
            if not idle[worker]:
                self.skipped[worker] += 1
                continue
            task = asyncio.create_task(self._one(idle[worker].pop(), idle[worker]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=self.timeout_s + 5)

    async def _one(self, client: httpx.AsyncClient, idle: list[httpx.AsyncClient]) -> None:
        sent = time.perf_counter()
        try:
            response = await self._ask(client)
            received = time.perf_counter()
        except httpx.HTTPError as exc:
            self.responses.append(Response(sent, time.perf_counter(), error=f"{type(exc).__name__}: {exc}"[:200]))
            return
        finally:
            idle.append(client)
        worker_text = response.headers.get(WORKER_HEADER, "")
        worker = int(worker_text) if worker_text.isdigit() else None
        enabled: bool | None = None
        error = None
        if response.status_code == 200:
            try:
                enabled = self._shows(response.json())
            except (ValueError, KeyError, TypeError) as exc:
                error = f"bad body: {type(exc).__name__}: {exc}"[:200]
        self.responses.append(Response(sent, received, worker, response.status_code, enabled, error))

    async def _ask(self, client: httpx.AsyncClient) -> httpx.Response:
        if self.graphql:
            return await client.post(self.path, json=PING, headers=self.headers)
        return await client.get(self.path)

    def _shows(self, body: Any) -> bool:
        """Whether the answer shows the plugin; ``ValueError`` for an answer that shows neither state."""
        if not self.graphql:
            return PLUGIN in body["plugins"]
        if (body.get("data") or {}).get("propbench_ping") == "pong":
            return True
        messages = [e.get("message", "") for e in body.get("errors") or []]
        if not body.get("data") and any(m.startswith(UNKNOWN_FIELD) for m in messages):
            return False  # the field is not in this worker's schema for the tenant
        raise ValueError(f"neither pong nor the unknown field: {body}")
