"""Delivering the outbox: at least once, in order per tenant, to the plugins enabled there.

:class:`EventDispatcher` is the one interface (:meth:`~EventDispatcher.deliver_batch`). How a
worker *claims* an event depends on the database; either way it only ever claims the **head**
of a tenant's queue (the tenant's oldest undelivered event), so event n+1 of a tenant is never
offered before event n's delivery finished:

- **PostgreSQL** (:class:`RowLockRelay`): several workers share the work. A worker locks one
  head with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` and holds that row lock, in an open
  transaction, for the whole delivery; the event's new state is written in that transaction
  after the hooks ran. Another worker computing the heads finds the same head for that tenant,
  sees it locked and skips the tenant: the tenant's next event is not a head until the first is
  committed as delivered. When a worker dies mid-delivery its connection goes, PostgreSQL rolls
  the transaction back and drops the lock, and the event is claimable again at once. A lock
  rather than a lease column: nothing to expire, so a slow but live worker never has its event
  taken over and delivered a second time concurrently, and no clock or lease length to tune.
  The cost is one open transaction (and pooled connection) per delivering worker.
  ``NO KEY UPDATE`` rather than ``UPDATE`` because the hook transactions insert
  :class:`EventDelivery` rows, whose foreign-key check takes ``KEY SHARE`` on the event row:
  ``FOR UPDATE`` would make the worker wait on itself.
- **SQLite** (:class:`SingleRelay`): one process writes at a time anyway, so a simple loop reads
  the oldest head, delivers it and writes its state. An exclusive lock on a file beside the
  database (released by the OS when the process dies) keeps a second worker process from
  relaying at the same time (``nentang serve --workers 2`` on SQLite).

**Per plugin.** Each plugin handles an event in a tenant transaction of its own (robust mode).
The :class:`EventDelivery` row saying "this plugin handled this event" commits in *that*
transaction, so a retry, or a resume after a crash, skips the plugins that already handled the
event: a plugin's database work for an event happens once; only work outside its transaction
(a call to another system) can be repeated after a crash.

**Failures and retries.** A plugin that raises is counted against its error budget for the
tenant (:class:`~nentang.kernel.plugins.quarantine.ErrorBudget`), the others still receive the
event, and the event is offered again after a back-off (``retry_delay`` doubled per failed
round, at most ``max_retry_delay``); meanwhile the tenant's later events wait. The event
completes when every plugin enabled at the tenant has handled it: a plugin that is disabled, or
quarantined there by its budget, is no longer waited for.

**Crash safety.** What is marked delivered is committed only after the hooks ran; a worker that
dies before leaves the event undelivered, and the next worker delivers it again to the plugins
without an :class:`EventDelivery` row.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Protocol, final

import structlog
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from nentang.kernel.data.database import Database
from nentang.kernel.events.models import EventDelivery, OutboxEvent, utcnow
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.dispatch import Dispatcher
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.settings import sqlite_path
from nentang.kernel.tenancy.service import TenantService
from nentang.sdk.context import TenantRef
from nentang.sdk.errors import ValidationFailed
from nentang.sdk.events import Event

try:  # POSIX; elsewhere the SQLite relay excludes only the threads of this process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

HOOK: Final = "nentang_event_received"
#: The actor plugins see on delivery (``ctx.actor``).
ACTOR: Final = "system:events"
#: The longest ``last_error`` kept.
_MAX_ERROR: Final = 2000


@final
@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An undelivered event as claimed, with the plugins that have handled it already."""

    id: int
    tenant_id: int
    type: str
    payload: str
    actor: str
    occurred_at: datetime
    attempts: int
    handled: frozenset[str]

    @classmethod
    def of(cls, row: OutboxEvent, handled: frozenset[str]) -> PendingEvent:
        at = row.occurred_at
        return cls(
            id=row.id or 0,
            tenant_id=row.tenant_id,
            type=row.type,
            payload=row.payload,
            actor=row.actor,
            occurred_at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
            attempts=row.attempts,
            handled=handled,
        )


#: Delivers one claimed event; returns the plugins that failed and are still waited for.
Deliver = Callable[[PendingEvent], list[tuple[str, BaseException]]]
#: Writes the outcome of a round in the given transaction; returns whether the event completed.
Finish = Callable[[Session, PendingEvent, list[tuple[str, BaseException]]], bool]


class Relay(Protocol):
    """A claim strategy: find heads, hand each to ``deliver``, record with ``finish``."""

    def run(self, limit: int, deliver: Deliver, finish: Finish) -> int:
        """Deliver up to ``limit`` events; return how many completed."""


def heads(now: datetime) -> Select[tuple[OutboxEvent]]:
    """Each tenant's oldest undelivered event, when not waiting for a retry; oldest first.

    The retry filter applies *after* the head is chosen: a tenant whose head waits has nothing
    to offer (its next event must not overtake the head). ``delivered`` is tested on the outer
    row too, so that PostgreSQL's re-check of a row that another worker has just committed as
    delivered drops it instead of locking it.
    """
    oldest = select(func.min(OutboxEvent.id)).where(OutboxEvent.delivered.is_(False)).group_by(OutboxEvent.tenant_id)
    return (
        select(OutboxEvent)
        .where(
            OutboxEvent.id.in_(oldest),
            OutboxEvent.delivered.is_(False),
            or_(OutboxEvent.retry_at.is_(None), OutboxEvent.retry_at <= now),
        )
        .order_by(OutboxEvent.id)
    )


def handled_by(session: Session, event_id: int) -> frozenset[str]:
    return frozenset(session.scalars(select(EventDelivery.plugin).where(EventDelivery.event_id == event_id)))


@final
class RowLockRelay:
    """PostgreSQL: heads claimed with ``FOR NO KEY UPDATE SKIP LOCKED``, one event per transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def run(self, limit: int, deliver: Deliver, finish: Finish) -> int:
        completed = 0
        for _ in range(limit):
            with self._db.platform() as session, session.begin():
                query = heads(utcnow()).limit(1).with_for_update(skip_locked=True, key_share=True)
                row = session.scalars(query).first()
                if row is None:
                    break
                event = PendingEvent.of(row, handled_by(session, row.id or 0))
                completed += finish(session, event, deliver(event))
        return completed


@final
class SingleRelay:
    """SQLite: one relaying process at a time (a file lock), a plain loop, short transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db
        path = sqlite_path(db.settings.database_url)
        self._lock_path: Path | None = path.with_name(path.name + ".events.lock") if path is not None else None
        self._threads = threading.Lock()

    def run(self, limit: int, deliver: Deliver, finish: Finish) -> int:
        completed = 0
        with self._exclusive() as mine:
            if not mine:
                return 0
            for _ in range(limit):
                with self._db.platform() as session:
                    row = session.scalars(heads(utcnow()).limit(1)).first()
                    event = PendingEvent.of(row, handled_by(session, row.id or 0)) if row is not None else None
                if event is None:
                    break
                outcome = deliver(event)  # no transaction of ours is open: the hooks may write
                with self._db.platform() as session, session.begin():
                    completed += finish(session, event, outcome)
        return completed

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if not self._threads.acquire(blocking=False):
            yield False
            return
        try:
            if self._lock_path is None or fcntl is None:
                yield True
                return
            with self._lock_path.open("a+b") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    held = False
                else:
                    held = True
                try:
                    yield held
                finally:
                    if held:
                        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


@final
class EventDispatcher:
    """Delivers outbox events to ``nentang_event_received``; see the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        tenants: TenantService,
        dispatcher: Dispatcher,
        budget: ErrorBudget,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
    ) -> None:
        if retry_delay < 0 or max_retry_delay < retry_delay:
            raise ValidationFailed(
                f"event retry delays must satisfy 0 <= retry_delay ({retry_delay}) <= max_retry_delay "
                f"({max_retry_delay})",
                code="events.settings",
            )
        self._db = db
        self._tenants = tenants
        self._dispatcher = dispatcher
        self._budget = budget
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self.relay: Relay = RowLockRelay(db) if db.dialect == "postgresql" else SingleRelay(db)
        self._log = structlog.get_logger("nentang.events")

    def deliver_batch(self, limit: int = 100) -> int:
        """Run up to ``limit`` delivery rounds (one event each); return how many events completed.

        Safe to call from several threads and, on PostgreSQL, from several workers at once.
        """
        if limit < 1:
            raise ValidationFailed(f"limit must be at least 1, not {limit}", code="events.limit")
        tenants: dict[int, TenantRef] = {}  # looked up once per batch

        def deliver(event: PendingEvent) -> list[tuple[str, BaseException]]:
            return self._deliver(event, tenants)

        return self.relay.run(limit, deliver, self._finish)

    def pending(self) -> int:
        """Events not yet delivered (all tenants), for operators and tests."""
        with self._db.platform() as session:
            count = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered.is_(False))
            return session.scalar(count) or 0

    # -- one round ------------------------------------------------------------------------

    def _deliver(self, event: PendingEvent, tenants: dict[int, TenantRef]) -> list[tuple[str, BaseException]]:
        plugins = [i.plugin_name for i in self._dispatcher.implementations(HOOK, event.tenant_id)]
        plugins = [plugin for plugin in plugins if plugin not in event.handled]
        if not plugins:
            return []
        tenant = tenants.get(event.tenant_id)
        if tenant is None:
            tenant = tenants[event.tenant_id] = tenant_ref(self._tenants.get_by_id(event.tenant_id))
        failures: list[tuple[str, BaseException]] = []
        for plugin in plugins:
            value = Event(
                id=event.id,
                type=event.type,
                tenant_id=event.tenant_id,
                payload=json.loads(event.payload),  # a copy per plugin: one cannot change another's
                actor=event.actor,
                occurred_at=event.occurred_at,
            )
            settings = self._dispatcher.activations.get(tenant.id).settings.get(plugin, {})
            try:
                with self._db.tenant(tenant.id) as session, session.begin():
                    self._dispatcher.call_one(
                        plugin, HOOK, tenant, actor=ACTOR, session=session, plugin_settings=settings, event=value
                    )
                    session.add(EventDelivery(event_id=event.id, plugin=plugin))
            except Exception as exc:
                self._log.warning(
                    "event.hook_failed",
                    plugin=plugin,
                    event_id=event.id,
                    type=event.type,
                    tenant=tenant.code,
                    error=repr(exc),
                )
                self._budget.failed(plugin, tenant, exc)
                failures.append((plugin, exc))
            else:
                self._budget.succeeded(plugin, tenant)
        if not failures:
            return []
        still_enabled = self._dispatcher.enabled(tenant.id)  # a quarantine just now evicted the cache
        return [(plugin, exc) for plugin, exc in failures if plugin in still_enabled]

    def _finish(self, session: Session, event: PendingEvent, waiting: list[tuple[str, BaseException]]) -> bool:
        now = utcnow()
        attempts = event.attempts + 1
        row = update(OutboxEvent).where(OutboxEvent.id == event.id)
        if not waiting:
            session.execute(row.values(delivered=True, delivered_at=now, attempts=attempts, retry_at=None))
            session.execute(delete(EventDelivery).where(EventDelivery.event_id == event.id))
            return True
        delay = min(self._retry_delay * 2 ** min(attempts - 1, 30), self._max_retry_delay)
        error = "; ".join(f"{plugin}: {type(exc).__name__}: {exc}" for plugin, exc in waiting)[:_MAX_ERROR]
        session.execute(row.values(attempts=attempts, last_error=error, retry_at=now + timedelta(seconds=delay)))
        self._log.warning("event.retry_scheduled", event_id=event.id, attempts=attempts, in_s=delay, error=error)
        return False
