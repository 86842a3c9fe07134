"""Each worker's ear for changes made by other workers (or other processes, like the CLI).

One daemon thread per worker. On PostgreSQL it LISTENs on :data:`CHANNEL` and hands each
notification to the topic's subscribers at once; on every database it also polls the version
table every ``poll_interval`` seconds and, when a topic's version moved without a notification
(SQLite, or a notification lost while reconnecting), tells the subscribers to drop everything
for that topic. Subscribers must be cheap and thread-safe (they evict cache entries).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import final

import structlog
from sqlalchemy import Engine

from nentang.kernel.propagation.versions import CHANNEL, read_versions

#: Called with the changed key, or ``None`` for "anything in the topic may have changed".
Subscriber = Callable[[str | None], None]


@final
class ChangeWatcher:
    def __init__(self, engine: Engine, *, poll_interval: float = 0.5, listen_url: str | None = None) -> None:
        self._engine = engine
        self._poll_interval = poll_interval
        self._listen_url = listen_url if engine.dialect.name == "postgresql" else None
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._versions: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log = structlog.get_logger("nentang.propagation")

    def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[topic].append(subscriber)

    def start(self) -> None:
        """Begin watching; versions seen now are the baseline (caches start empty anyway)."""
        if self._thread is not None:
            return
        try:
            self._versions = read_versions(self._engine)
        except Exception:  # tables not there yet (before migrations): every topic starts at 0
            self._versions = {}
        self._thread = threading.Thread(target=self._run, name="nentang-change-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def poll_now(self) -> None:
        """Compare versions once, in the caller's thread (tests and the CLI use this)."""
        try:
            current = read_versions(self._engine)
        except Exception as exc:
            self._log.warning("propagation.poll_failed", error=type(exc).__name__)
            return
        for topic, version in current.items():
            if self._versions.get(topic) != version:
                self._versions[topic] = version
                self._notify(topic, None)

    def _notify(self, topic: str, key: str | None) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(topic, ()))
        for subscriber in subscribers:
            try:
                subscriber(key)
            except Exception as exc:  # one broken subscriber must not deafen the others
                self._log.error("propagation.subscriber_failed", topic=topic, error=repr(exc))

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._listen_url:
                self._listen_until_stopped()
            else:
                self.poll_now()
                self._stop.wait(self._poll_interval)

    def _listen_until_stopped(self) -> None:
        import psycopg  # PostgreSQL only; the embedded default never imports the driver

        try:
            with psycopg.connect(self._listen_url, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                self.poll_now()  # anything that changed while we were not listening
                next_poll = time.monotonic() + self._poll_interval
                while not self._stop.is_set():
                    # short waits so that stop() is honoured promptly
                    timeout = min(0.1, max(0.0, next_poll - time.monotonic()))
                    for note in connection.notifies(timeout=timeout, stop_after=1):
                        self._on_payload(note.payload)
                    if time.monotonic() >= next_poll:
                        self.poll_now()
                        next_poll = time.monotonic() + self._poll_interval
        except Exception as exc:
            self._log.warning("propagation.listen_failed", error=type(exc).__name__, retry_in_s=1)
            self._stop.wait(1)

    def committed_here(self, changes: list[tuple[str, int, str | None]]) -> None:
        """Changes this worker just committed (see ``Database.on_commit``): apply them now."""
        for topic, version, key in changes:
            self._heard(topic, version, key)

    def _on_payload(self, payload: str) -> None:
        topic, _, rest = payload.partition(":")
        version_text, _, key = rest.partition(":")
        try:
            version = int(version_text)
        except ValueError:
            self._notify(topic, None)
            return
        self._heard(topic, version, key or None)

    def _heard(self, topic: str, version: int, key: str | None) -> None:
        # The next version in sequence: evict just the key, and the poll will not flush the
        # whole topic again. A gap means a change was missed: the next poll flushes the topic.
        if self._versions.get(topic, 0) + 1 == version:
            self._versions[topic] = version
        self._notify(topic, key)
