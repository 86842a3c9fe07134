"""Bearer tokens this worker verified lately, so that an integrator's next request costs no
database round trip.

Why it is safe to remember a verified token:

- the cache is keyed by the SHA-256 of the whole token, the same value the database stores: holding
  it in memory reveals nothing the table does not;
- **revocation** bumps the ``identity`` topic with the key ``token:<id>``; every worker forgets the
  token at once on its own commit, and within the propagation delay (LISTEN/NOTIFY, or the version
  poll) elsewhere — the same promise grants and revokes of roles make;
- **expiry** is compared with the clock on every use, cached or not;
- **last use** is still written at most once per touch interval: a cached token whose last recorded
  use is older than that is not answered from here, and the database path records it;
- a verification that raced with a revocation is not kept (the generation check), so a stale
  entry cannot outlive the change that made it stale.

Refusals (unknown, revoked, expired) are never cached: each one takes the database path, which
says why and audits it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from nentang.kernel.identity.tokens import TokenInfo

#: Tokens remembered per worker; the least recently used is dropped beyond this.
DEFAULT_MAX_TOKENS: Final = 10_000


@final
class VerifiedTokens:
    def __init__(self, touch_interval: timedelta, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self._touch_interval = touch_interval
        self._max = max_tokens
        self._by_digest: OrderedDict[str, TokenInfo] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """Read before verifying in the database; hand it back to :meth:`remember`."""
        return self._generation

    def fresh(self, digest: str, moment: datetime) -> TokenInfo | None:
        """The token behind ``digest`` if it was verified here, has not expired, and its last use
        needs no new record; ``None`` when the database must answer."""
        token = self._by_digest.get(digest)
        if token is None:
            return None
        if moment >= token.expires_at:
            return None
        if token.last_used_at is None or moment - token.last_used_at >= self._touch_interval:
            return None
        return token

    def remember(self, digest: str, token: TokenInfo, generation: int) -> None:
        """Keep a token the database just verified, unless a revocation was heard meanwhile."""
        with self._lock:
            if generation != self._generation:
                return
            self._by_digest[digest] = token
            self._by_digest.move_to_end(digest)
            if len(self._by_digest) > self._max:
                self._by_digest.popitem(last=False)

    def forget(self, key: str | None) -> None:
        """The watcher's subscriber: ``token:<id>`` was revoked (``None``: anything may have been;
        other keys of the topic concern users, not tokens)."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._by_digest.clear()
                return
            kind, _, number = key.partition(":")
            if kind == "token" and number.isdigit():
                for digest in [d for d, t in self._by_digest.items() if t.id == int(number)]:
                    del self._by_digest[digest]

    def __len__(self) -> int:
        return len(self._by_digest)
