"""Who holds which role where, for every principal, in each worker: :class:`GrantStore`.

The store reads every grant once (at start, and again after "anything may have changed") into a
:class:`~.grant_table.GrantTable` — four bytes a principal — so a check never waits for the database,
however many principals are active. What changes afterwards is patched in:

- a change of one principal (``evict(key)``: this worker's commit, or another's notification) marks
  the principal *stale*; its next check reads it again (one indexed query on a kept connection) and
  stores the answer back, unless another change raced with that read (the generation check);
- a change of anything (``evict(None)``: the poll saw the version move without hearing which key)
  drops the table and rebuilds it — inline when it is small, else on a thread of its own, while checks
  read through a bounded LRU. A principal changed while the rebuild reads is marked stale in the new
  table before it is installed, so no change committed after the rebuild's read began is lost.
"""

from __future__ import annotations

import threading
import time
from typing import Final, final

import structlog

from nentang.kernel.authz.cache import GrantReader
from nentang.kernel.authz.grant_table import GrantList, GrantTable
from nentang.kernel.propagation.cache import LoadingCache

#: A table of fewer grant rows than this is rebuilt inline, in the notifying thread (a few ms).
INLINE_REBUILD_ROWS: Final = 100_000
#: Principals the LRU holds while there is no table (before the first load, during a rebuild).
FALLBACK_PRINCIPALS: Final = 200_000


@final
class GrantStore:
    """``get(principal)`` → the principal's ``(tenant_id, role_id)`` grants; ``evict`` on changes."""

    def __init__(self, reader: GrantReader, *, inline_rebuild_rows: int = INLINE_REBUILD_ROWS) -> None:
        self._reader = reader
        self._inline_rows = inline_rebuild_rows
        self._table: GrantTable | None = None
        self._fallback: LoadingCache[str, GrantList] = LoadingCache(reader.grants_of, FALLBACK_PRINCIPALS)
        self._lock = threading.Lock()
        #: Moves on every eviction: a read that saw it move is answered but not stored.
        self._generation = 0
        #: Moves on every flush: a rebuild that saw it move reads again.
        self._flushes = 0
        self._rebuilding = False
        #: Principals changed while a rebuild reads (``None`` when no rebuild runs).
        self._changed_meanwhile: set[str] | None = None
        self._closed = False
        self._log = structlog.get_logger("nentang.authz")
        #: Seconds the last completed build took (read every grant, build the table).
        self.last_build_s = 0.0

    # -- the hot path --------------------------------------------------------------------------

    def get(self, principal: str) -> GrantList:
        table = self._table
        if table is None:
            return self._fallback.get(principal)
        grants = table.lookup(principal)
        if grants is not None:
            return grants
        generation = self._generation
        grants = self._reader.grants_of(principal)
        with self._lock:
            if generation == self._generation and self._table is table:
                table.store(principal, grants)
        return grants

    # -- loading and invalidation -------------------------------------------------------------

    def load(self) -> None:
        """Read every grant now, in this thread (start-up); the store serves from the LRU until then."""
        self.evict(None, inline=True)

    def evict(self, key: str | None, *, inline: bool | None = None) -> None:
        """Forget ``key``'s grants (``None``: everyone's, and rebuild)."""
        if key is not None:
            with self._lock:
                self._generation += 1
                if self._table is not None:
                    self._table.mark_stale(key)
                if self._changed_meanwhile is not None:
                    self._changed_meanwhile.add(key)
            self._fallback.evict(key)
            return
        with self._lock:
            self._generation += 1
            self._flushes += 1
            previous, self._table = self._table, None
            start, self._rebuilding = not self._rebuilding, True
        self._fallback.evict(None)
        if not start:
            return  # the running rebuild sees the flush and reads again
        if inline if inline is not None else previous is None or previous.rows < self._inline_rows:
            self._rebuild(raising=True)
        else:
            threading.Thread(
                target=self._rebuild, kwargs={"raising": False}, name="nentang-grant-rebuild", daemon=True
            ).start()

    def _rebuild(self, *, raising: bool) -> None:
        try:
            while not self._closed:
                with self._lock:
                    flushes, self._changed_meanwhile = self._flushes, set()
                started = time.perf_counter()
                table = GrantTable.build(self._reader.all_grants())
                with self._lock:
                    if flushes != self._flushes or self._closed:
                        continue
                    for principal in self._changed_meanwhile:
                        table.mark_stale(principal)
                    self._table, self._changed_meanwhile = table, None
                self.last_build_s = time.perf_counter() - started
                self._fallback.evict(None)  # the table answers now: the LRU's memory is not needed
                return
        except Exception as exc:  # the LRU keeps answering; the next flush tries again
            self._log.error("authz.grant_table_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            if raising:
                raise
        finally:
            with self._lock:
                self._rebuilding, self._changed_meanwhile = False, None

    def close(self) -> None:
        self._closed = True
        self._reader.close()

    # -- what it holds -------------------------------------------------------------------------

    @property
    def table(self) -> GrantTable | None:
        """The current table (``None`` before the first load and while rebuilding)."""
        return self._table

    def __len__(self) -> int:
        """Principals answered without a query: those in the table, else those in the LRU."""
        table = self._table
        return table.principals() if table is not None else len(self._fallback)
