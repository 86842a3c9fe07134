"""A bounded, loading LRU for per-worker copies of shared state.

Entries are evicted from the change watcher's thread. A read that raced with an eviction is
not stored (the generation check), so a stale entry cannot outlive the change that made it stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar, final

K = TypeVar("K")
V = TypeVar("V")


@final
class LoadingCache(Generic[K, V]):
    """A bounded LRU that loads misses through ``load`` and never stores a raced read."""

    def __init__(self, load: Callable[[K], V], max_entries: int) -> None:
        self._load = load
        self._max = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        try:
            value = self._entries[key]
            self._entries.move_to_end(key)  # may race with an eviction: then it is a miss
            return value
        except KeyError:
            pass
        generation = self._generation
        value = self._load(key)
        with self._lock:
            if generation == self._generation:
                self._entries[key] = value
                if len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return value

    def fill(self, load_all: Callable[[], dict[K, V]]) -> int:
        """Load many entries at once (at start: every tenant's path in one query); returns how many
        were stored (none if an eviction raced with the read, as for a single miss)."""
        generation = self._generation
        values = load_all()
        with self._lock:
            if generation != self._generation:
                return 0
            for key, value in values.items():
                self._entries[key] = value
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return len(values)

    def peek(self, key: K) -> V | None:
        """The cached value, without loading a miss (for callers that must not block)."""
        return self._entries.get(key)

    def evict(self, key: K | None) -> None:
        """Forget ``key`` (``None``: everything)."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
