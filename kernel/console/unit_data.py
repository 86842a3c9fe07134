"""Reads of the unit tree for the console's pages: a page at a time, never a whole level of 3,321.

- :func:`children_page`: one unit's children by code, after a cursor, with each child's own child
  count (so the page can offer "N units below" without loading them: lazy expansion).
- :func:`search_page`: units of a subtree whose code or name contains the text, by (level, code).
  Names are compared lower-cased (PostgreSQL lower-cases Vietnamese letters; SQLite only ASCII, so
  on the embedded database type accented capitals as they are written).
- :func:`in_scope`: a unit named by code, only if it is inside the acting unit's subtree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

from sqlalchemy import and_, func, or_, select

from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo


@final
@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: TenantInfo
    child_count: int


@final
@dataclass(frozen=True, slots=True)
class UnitPage:
    rows: list[UnitRow]
    #: The cursor of the next page (``code`` for children, ``depth:code`` for a search), or None.
    next_after: str | None
    total: int


def _with_counts(session: Any, units: list[TenantInfo]) -> list[UnitRow]:
    ids = [u.id for u in units]
    counts: dict[int, int] = {}
    if ids:
        query = select(Tenant.parent_id, func.count()).where(Tenant.parent_id.in_(ids)).group_by(Tenant.parent_id)
        counts = {parent: count for parent, count in session.execute(query)}
    return [UnitRow(u, counts.get(u.id, 0)) for u in units]


def parse_after(after: str | None) -> tuple[int, str] | None:
    """A (level, code) cursor from its ``depth:code`` form; None if absent or malformed."""
    depth, _, code = (after or "").partition(":")
    return (int(depth), code) if depth.isdigit() and code else None


def matches(text: str) -> Any:
    """Units whose code or (lower-cased) name contains ``text``."""
    return or_(
        Tenant.code.contains(text, autoescape=True),
        func.lower(Tenant.name).contains(text.lower(), autoescape=True),
    )


def after_clause(after: tuple[int, str] | None) -> list[Any]:
    """The keyset condition of a page ordered by (level, code)."""
    if after is None:
        return []
    depth, code = after
    return [or_(Tenant.depth > depth, and_(Tenant.depth == depth, Tenant.code > code))]


def children_page(kernel: Kernel, parent: TenantInfo, after: str, limit: int) -> UnitPage:
    with kernel.db.platform() as session:
        total = session.scalar(select(func.count()).where(Tenant.parent_id == parent.id)) or 0
        query = select(Tenant).where(Tenant.parent_id == parent.id, Tenant.code > after).order_by(Tenant.code)
        units = [TenantInfo.of(r) for r in session.scalars(query.limit(limit + 1))]
        more = len(units) > limit
        rows = _with_counts(session, units[:limit])
    return UnitPage(rows, rows[-1].unit.code if more else None, total)


def search_page(kernel: Kernel, root: TenantInfo, text: str, after: tuple[int, str] | None, limit: int) -> UnitPage:
    where: list[Any] = [
        Tenant.path > root.path,
        Tenant.path < subtree_upper_bound(root.path),
        matches(text),
    ]
    page = [*where, *after_clause(after)]
    with kernel.db.platform() as session:
        total = session.scalar(select(func.count()).select_from(Tenant).where(*where)) or 0
        query = select(Tenant).where(*page).order_by(Tenant.depth, Tenant.code).limit(limit + 1)
        units = [TenantInfo.of(r) for r in session.scalars(query)]
        more = len(units) > limit
        rows = _with_counts(session, units[:limit])
    last = rows[-1].unit if rows else None
    return UnitPage(rows, f"{last.depth}:{last.code}" if more and last else None, total)


def child_count(kernel: Kernel, unit: TenantInfo) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).where(Tenant.parent_id == unit.id)) or 0


def in_scope(acting: TenantInfo, unit: TenantInfo) -> bool:
    """Whether ``unit`` is the acting unit or below it."""
    return unit.path.startswith(acting.path)


def trail(kernel: Kernel, acting: TenantInfo, unit: TenantInfo) -> list[TenantInfo]:
    """The units from the acting unit down to ``unit``'s parent (the breadcrumb within reach)."""
    if unit.id == acting.id:
        return []
    return [a for a in kernel.tenants.ancestors(unit.code) if a.depth >= acting.depth]
