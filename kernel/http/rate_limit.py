"""How often one client may do something that is cheap to ask for and costs the server to answer.

``/auth/oidc/start`` is reachable without signing in, and each call stores a pending sign-in (a
row, until it expires) and asks the provider for nothing yet: a loop on it would fill the table.
A sliding window per client address bounds that. The count is per worker process, so a deployment
of N workers allows up to N times the limit — enough to stop a flood, never enough to lock out a
person. Behind a reverse proxy, run the server with ``--proxy-headers`` (and the proxy's address in
``--forwarded-allow-ips``) so the client address is the browser's, not the proxy's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import final


@final
class RateLimit:
    def __init__(
        self,
        max_events: int,
        window_seconds: float,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_events < 1 or window_seconds <= 0:
            raise ValueError(
                f"a rate limit needs max_events >= 1 and window_seconds > 0 ({max_events}, {window_seconds})"
            )
        self.max_events = max_events
        self.window_seconds = window_seconds
        self._max_clients = max_clients
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_for(self, client: str) -> float:
        """Record an attempt by ``client``: 0 when allowed, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            events = self._events.pop(client, None) or deque()
            self._events[client] = events  # the most recently seen client goes last
            while events and events[0] <= now - self.window_seconds:
                events.popleft()
            if len(events) >= self.max_events:
                return events[0] + self.window_seconds - now
            events.append(now)
            if len(self._events) > self._max_clients:
                self._events.popitem(last=False)  # forget the client seen longest ago
            return 0.0
