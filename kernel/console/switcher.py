"""The unit chooser (tenant switcher): ``GET /console/[?q=...&after=...&choose=1]``.

It lists only the units where the signed-in person holds a role: each unit where a role was
granted, and every unit below it (a role at a province counts in its communes). A central
administrator reaches all 3,356, so the list is searched (code or name) and paged by
(level, code) — :data:`PAGE_SIZE` at a time, a keyset cursor, never the whole tree in one page.

A person whose roles all sit in one unit's subtree is taken straight to that unit's console
(``choose=1`` — the header's "Switch unit" link — shows the chooser anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from nentang.kernel.console.binding import sign_in_url
from nentang.kernel.console.pages import CONSOLE_HOME, PAGE_SIZE, caller_in, console_of, redirect, render, tenant_url
from nentang.kernel.console.unit_data import after_clause, matches, parse_after
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, subtree_upper_bound
from nentang.kernel.tenancy.service import TenantInfo

MAX_QUERY = 100


@final
@dataclass(frozen=True, slots=True)
class Choice:
    unit: TenantInfo
    #: The unit directly above, to tell apart units of the same name ("Phường Một" in two provinces).
    parent_name: str | None


@final
@dataclass(frozen=True, slots=True)
class ChoicePage:
    roots: list[TenantInfo]
    choices: list[Choice]
    total: int
    next_after: str | None


def reach_roots(kernel: Kernel, principal: str) -> list[TenantInfo]:
    """The units where ``principal`` holds a grant, without those inside another's subtree."""
    ids = {tenant_id for tenant_id, _role in kernel.authz.grants.get(principal)}
    if not ids:
        return []
    with kernel.db.platform() as session:
        rows = [TenantInfo.of(r) for r in session.scalars(select(Tenant).where(Tenant.id.in_(ids)))]
    rows.sort(key=lambda t: t.path)
    roots: list[TenantInfo] = []
    for row in rows:
        if not any(row.path.startswith(kept.path) for kept in roots):
            roots.append(row)
    return sorted(roots, key=lambda t: (t.depth, t.code))


def choices(
    kernel: Kernel, roots: list[TenantInfo], query: str, after: tuple[int, str] | None, limit: int = PAGE_SIZE
) -> ChoicePage:
    """One page of the units under ``roots`` that match ``query``, with the count of all matches."""
    if not roots:
        return ChoicePage(roots, [], 0, None)
    reach = or_(*(and_(Tenant.path >= r.path, Tenant.path < subtree_upper_bound(r.path)) for r in roots))
    where: list[Any] = [reach]
    if query:
        where.append(matches(query))
    page = [*where, *after_clause(after)]
    parent = aliased(Tenant)
    with kernel.db.platform() as session:
        total = session.scalar(select(func.count()).select_from(Tenant).where(*where)) or 0
        rows = session.execute(
            select(Tenant, parent.name)
            .outerjoin(parent, parent.id == Tenant.parent_id)
            .where(*page)
            .order_by(Tenant.depth, Tenant.code)
            .limit(limit + 1)
        ).all()
    found = [Choice(TenantInfo.of(row), parent_name) for row, parent_name in rows]
    more = len(found) > limit
    found = found[:limit]
    next_after = f"{found[-1].unit.depth}:{found[-1].unit.code}" if more else None
    return ChoicePage(roots, found, total, next_after)


async def choose_unit(request: Request) -> Response:
    caller = caller_in(request)
    if caller.user is None:
        return redirect(request, sign_in_url(request, CONSOLE_HOME))
    kernel = console_of(request).kernel
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    after = parse_after(request.query_params.get("after"))
    roots = await run_in_threadpool(reach_roots, kernel, caller.principal)
    if len(roots) == 1 and not query and after is None and request.query_params.get("choose") != "1":
        return redirect(request, tenant_url(roots[0].code))
    page = await run_in_threadpool(partial(choices, kernel, roots, query, after))
    return render(request, "choose_unit.html", {"page": page, "query": query})
