"""The background relay of one worker: a daemon thread calling
:meth:`~nentang.kernel.events.delivery.EventDispatcher.deliver_batch`.

Started by :meth:`Kernel.start` when ``Settings.events_background`` is on, stopped by
:meth:`Kernel.close`. It wakes at once when this worker commits an emitted event, and polls every
``poll_interval`` seconds for the events of other workers and for retries that fell due. Polling
rather than a PostgreSQL NOTIFY per emit: a NOTIFY takes a database-wide lock at commit, which
would serialise every event-emitting transaction of the platform to save at most one poll interval.
"""

from __future__ import annotations

import threading
from typing import Any, final

import structlog

from nentang.kernel.data.database import Database
from nentang.kernel.events.delivery import EventDispatcher
from nentang.kernel.events.outbox import WAKE_TOPIC


@final
class EventRunner:
    def __init__(self, events: EventDispatcher, db: Database, *, poll_interval: float = 0.2, batch: int = 100) -> None:
        self._events = events
        self._poll_interval = poll_interval
        self._batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = structlog.get_logger("nentang.events")
        db.on_commit(self._committed)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="nentang-event-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the delivery in progress (at-least-once makes an abandoned one harmless)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _committed(self, changes: list[Any]) -> None:
        if any(isinstance(change, tuple) and change and change[0] == WAKE_TOPIC for change in changes):
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                completed = self._events.deliver_batch(self._batch)
            except Exception as exc:  # the database may be away for a moment; keep the thread alive
                self._log.error("event.relay_failed", error=f"{type(exc).__name__}: {exc}"[:500], retry_in_s=1)
                self._stop.wait(1)
                continue
            if completed < self._batch:
                self._wake.wait(self._poll_interval)
