"""Reading the audit log: newest first, filtered, one keyset page at a time.

The order is ``(at, tenant_id, seq)`` descending: newest first across every tenant read (a
province's roll-up interleaves its communes' entries by time), and a total order, because
``(tenant_id, seq)`` is unique. A page starts strictly after the last key of the page before, so
entries appended while a client pages appear at the front and never shift a later page (no
gaps, no duplicates). Two indexes back it (migration k0006): ``(tenant_id, at, seq)`` for one
tenant's log and ``(at, tenant_id, seq)`` for a subtree; the extra ``at <=`` bound lets the
database start its index scan at the cursor instead of walking every newer entry.

Rows are read through a session scoped to the tenants being read (``Database.tenant`` or
``Database.subtree``): the log is tenant-owned, so the scope guard, and on PostgreSQL row-level
security, keep every other tenant's entries out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import final

from sqlalchemy import and_, or_, select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.data.database import Database
from nentang.kernel.identity.timeutil import aware
from nentang.sdk.errors import ValidationFailed

BAD_FILTER = "audit.bad_filter"

#: The position of an entry in the order: (at, tenant id, seq).
AuditKey = tuple[datetime, int, int]


@final
@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to read; every field set narrows the result."""

    #: An exact action (``plugin.enable``), or a prefix ending with a dot (``authz.``).
    action: str | None = None
    #: Exactly this actor (``user:42``, ``cli:root``).
    actor: str | None = None
    #: Entries at or after this instant.
    since: datetime | None = None
    #: Entries strictly before this instant.
    until: datetime | None = None

    def checked(self) -> AuditFilter:
        """The same filter with its instants in UTC, or a clear error; SQLite stores UTC wall
        time, so comparing needs UTC, and a time without a zone would be a guess."""
        since, until = _utc("since", self.since), _utc("until", self.until)
        if since is not None and until is not None and since >= until:
            raise ValidationFailed(
                f"since ({since.isoformat()}) must be before until ({until.isoformat()})", code=BAD_FILTER
            )
        if self.action is not None and not self.action.strip(". "):
            raise ValidationFailed(
                "action must name an action (plugin.enable) or a prefix ending with a dot (authz.)", code=BAD_FILTER
            )
        return AuditFilter(action=self.action, actor=self.actor, since=since, until=until)


def _utc(name: str, at: datetime | None) -> datetime | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValidationFailed(
            f"{name} needs a time zone, e.g. {at.isoformat()}Z or {at.isoformat()}+07:00", code=BAD_FILTER
        )
    return at.astimezone(UTC)


def key_of(entry: AuditEntry) -> AuditKey:
    return (aware(entry.at), entry.tenant_id or 0, entry.seq)


def read_page(
    db: Database,
    *,
    root_id: int,
    tenant_ids: frozenset[int],
    where: AuditFilter,
    limit: int,
    after: AuditKey | None = None,
) -> list[AuditEntry]:
    """At most ``limit`` entries of ``tenant_ids`` after ``after``, newest first.

    :param root_id: the tenant read (the root of the subtree when ``tenant_ids`` holds more).
    :param where: a filter already :meth:`~AuditFilter.checked`.
    """
    e = AuditEntry
    query = select(e)
    if where.action is not None:
        action = where.action
        query = query.where(
            e.action.startswith(action, autoescape=True) if action.endswith(".") else e.action == action
        )
    if where.actor is not None:
        query = query.where(e.actor == where.actor)
    if where.since is not None:
        query = query.where(e.at >= where.since)
    if where.until is not None:
        query = query.where(e.at < where.until)
    if after is not None:
        at, tenant_id, seq = after
        query = query.where(
            e.at <= at,  # an index bound; the rest orders the entries of the same instant
            or_(e.at < at, and_(e.at == at, or_(e.tenant_id < tenant_id, and_(e.tenant_id == tenant_id, e.seq < seq)))),
        )
    query = query.order_by(e.at.desc(), e.tenant_id.desc(), e.seq.desc()).limit(limit)
    single = len(tenant_ids) == 1 and root_id in tenant_ids
    with db.tenant(root_id) if single else db.subtree(root_id, tenant_ids) as session:
        return list(session.scalars(query).all())
