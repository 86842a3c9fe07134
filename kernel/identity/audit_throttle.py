"""At most one audit entry per key and interval, per worker: refusals that a misconfigured client
repeats in a loop (a revoked token, a credential of a suspended tenant) are security events worth
one entry each minute, not one per request."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final, final

#: Keys remembered per worker; beyond this all are forgotten (more entries, never fewer).
DEFAULT_MAX_KEYS: Final = 10_000


@final
class AuditThrottle:
    def __init__(self, interval: timedelta, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._interval = interval
        self._max_keys = max_keys
        self._last: dict[object, datetime] = {}
        self._lock = threading.Lock()

    def due(self, key: object, moment: datetime) -> bool:
        """Whether ``key``'s event at ``moment`` should be audited; if so, it counts from now."""
        with self._lock:
            last = self._last.get(key)
            if last is not None and moment - last < self._interval:
                return False
            if len(self._last) >= self._max_keys:
                self._last.clear()
            self._last[key] = moment
            return True
