"""Schemas by enabled-plugin set — never by tenant — built once per set, off the request path
where possible.

- :meth:`SchemaCache.get` is the request path: a dictionary read. For a set never seen it builds the
  schema at once, under that set's lock; concurrent requests for the same set wait for that one
  build instead of starting their own.
- :meth:`SchemaCache.prebuild` queues a build on a background thread; the endpoint calls it when it
  hears that a tenant's activations changed, so the first request after an enable usually finds
  the new schema ready.
- A schema that had to leave a plugin out is built again in the background after
  ``retry_failed_plugins_after`` seconds; it is replaced only by a build that leaves out fewer
  plugins, so a failing rebuild keeps the schema that serves.
- Bounded: the least recently used set is dropped past ``graphql.schemas`` entries (requests that
  hold it finish on it).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import final

import structlog

from nentang.kernel.graphql.served import ServedSchema, SetKey

#: What the background thread is asked: build a set, or retry a degraded set.
_Job = tuple[str, SetKey] | tuple[str, Callable[[], SetKey | None]]


@final
class SchemaCache:
    def __init__(
        self,
        build: Callable[[SetKey], ServedSchema],
        *,
        max_sets: int,
        retry_after: float,
        before_retry: Callable[[], None] | None = None,
    ) -> None:
        self._build = build
        self._max = max_sets
        self._retry_after = retry_after
        self._before_retry = before_retry
        self._entries: OrderedDict[SetKey, ServedSchema] = OrderedDict()
        self._build_locks: dict[SetKey, threading.Lock] = {}
        self._retrying: set[SetKey] = set()
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._log = structlog.get_logger("nentang.graphql")
        #: How many schemas this cache built (the tests read it).
        self.builds = 0

    # -- the request path -------------------------------------------------------------------

    def peek(self, key: SetKey) -> ServedSchema | None:
        served = self._entries.get(key)
        if served is None:
            return None
        with contextlib.suppress(KeyError):  # dropped by another thread meanwhile; still usable by this request
            self._entries.move_to_end(key)
        if served.degraded and time.monotonic() - served.built_at >= self._retry_after:
            self._queue_retry(key)
        return served

    def get(self, key: SetKey) -> ServedSchema:
        """The schema of ``key``, built now if never seen (blocking: call it from a worker thread)."""
        served = self.peek(key)
        if served is not None:
            return served
        with self._lock:
            build_lock = self._build_locks.setdefault(key, threading.Lock())
        with build_lock:
            served = self._entries.get(key)
            if served is None:
                served = self._build(key)
                self._store(key, served)
        with self._lock:
            self._build_locks.pop(key, None)
        return served

    # -- off the request path ---------------------------------------------------------------------

    def prebuild(self, key_of: Callable[[], SetKey | None]) -> None:
        """Work out a set (``key_of``, e.g. a tenant's, read fresh) and build it, in the background."""
        self._submit(("build", key_of))

    def _queue_retry(self, key: SetKey) -> None:
        with self._lock:
            if key in self._retrying:
                return
            self._retrying.add(key)
        self._submit(("retry", key))

    def _submit(self, job: _Job) -> None:
        if self._closed:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nentang-graphql-schemas", daemon=True)
                self._thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            kind, what = job
            try:
                if kind == "build":
                    key = what() if callable(what) else what
                    if key is not None:
                        self.get(key)
                else:
                    self._retry(what)  # type: ignore[arg-type]
            except Exception as exc:  # a background build must never stop the thread
                self._log.error("graphql.background_build_failed", job=kind, error=repr(exc))

    def _retry(self, key: SetKey) -> None:
        try:
            current = self._entries.get(key)
            if current is None:
                return
            if self._before_retry is not None:
                self._before_retry()
            fresh = self._build(key)
            if len(fresh.left_out) < len(current.left_out):
                self._store(key, fresh)
                self._log.info("graphql.schema_recovered", plugins=sorted(fresh.plugins))
            else:
                current.built_at = time.monotonic()  # keep serving it; try again later
        finally:
            with self._lock:
                self._retrying.discard(key)

    def _store(self, key: SetKey, served: ServedSchema) -> None:
        with self._lock:
            self.builds += 1
            self._entries[key] = served
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until queued background work is done (tests and the CLI)."""
        done = threading.Event()
        self._submit(("build", lambda: (done.set(), None)[1]))
        done.wait(timeout)

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def __len__(self) -> int:
        return len(self._entries)
