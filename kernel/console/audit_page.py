"""The Audit page under ``/t/{code}/console/``: a unit's audit log, filtered and paged; its chain checked.

- ``GET  /audit[?unit=X&actor=&action=&since=&until=&after=K]`` the entries of X (default: the acting
  unit), newest first, a keyset page at a time ("older" follows the last entry shown)
- ``POST /audit/verify`` (``unit``)  checks X's hash chain and shows the page with the outcome

Both are the GraphQL ``auditLog`` and ``verifyAuditChain`` fields' reads (``actions.READS``): the
same permission (``kernel.audit.read`` at X, a grant at an ancestor counting) by the same rule, then
the same functions (:func:`~nentang.kernel.audit.query.read_page` through a session scoped to X,
:func:`~nentang.kernel.audit.verify.verify_chains`). X is looked up in the acting unit's subtree
only, so another province's log is the same 404 as an unknown code. Checking the chain changes
nothing, so its answer is the page itself rather than a redirect: sending it again checks again.

The filter is a GET form (it works with JavaScript off, and a filtered page can be bookmarked).
Days are calendar days in Vietnam's time: "from" includes its whole day, "to" too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nentang.kernel.audit import query as audit_query
from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.audit.verify import ChainReport, verify_chains
from nentang.kernel.console.actions import READS
from nentang.kernel.console.forms import FieldError, errors_by_field, form_of
from nentang.kernel.console.i18n import LOCAL_TIME, N_
from nentang.kernel.console.messages import text
from nentang.kernel.console.pages import PAGE_SIZE, console_of, render
from nentang.kernel.console.permitted import permitted_unit
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import ValidationFailed

MAX_TEXT = 200
#: A detail longer than this is cut in the table (the whole entry stays in the log and in GraphQL).
MAX_DETAIL = 300
BAD_DATE = N_("Enter a date like 31/12/2026")
BAD_RANGE = N_("The “from” date must not be after the “to” date")
BAD_ACTION = N_("Enter an action (plugin.enable) or the start of one ending with a dot (authz.)")
BAD_CURSOR = N_("This link to older entries is damaged; start again from the newest")


@dataclass(slots=True)
class Filter:
    """The filter form as typed, what it means, and what is wrong with it."""

    fields: dict[str, str]
    where: audit_query.AuditFilter = field(default_factory=audit_query.AuditFilter)
    after: audit_query.AuditKey | None = None
    errors: list[FieldError] = field(default_factory=list)


def parse_day(value: str) -> date | None:
    """``2026-12-31`` (what a date input sends) or ``31/12/2026`` (what a person types); else None."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TIME)


def encode_after(entry: AuditEntry) -> str:
    at, tenant_id, seq = audit_query.key_of(entry)
    return f"{at.isoformat()}~{tenant_id}~{seq}"


def decode_after(value: str) -> audit_query.AuditKey | None:
    """The key of :func:`encode_after`; raises ValueError for anything else."""
    at, tenant_id, seq = value.split("~")
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return (aware(moment), int(tenant_id), int(seq))


def read_filter(request: Request) -> Filter:
    query = request.query_params
    fields = {name: query.get(name, "").strip()[:MAX_TEXT] for name in ("actor", "action", "since", "until")}
    found = Filter(fields)
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        days[name] = parse_day(fields[name]) if fields[name] else None
        if fields[name] and days[name] is None:
            found.errors.append(FieldError(name, text(request, BAD_DATE)))
    since, until = days["since"], days["until"]
    if since is not None and until is not None and since > until:
        found.errors.append(FieldError("until", text(request, BAD_RANGE)))
    action = fields["action"] or None
    try:
        audit_query.AuditFilter(action=action).checked()
    except ValidationFailed:
        found.errors.append(FieldError("action", text(request, BAD_ACTION)))
    if not found.errors:
        found.where = audit_query.AuditFilter(
            actor=fields["actor"] or None,
            action=action,
            since=_start_of(since) if since else None,
            until=_start_of(until + timedelta(days=1)) if until else None,  # "to" includes its day
        ).checked()
    after = query.get("after", "")
    if after:
        try:
            found.after = decode_after(after)
        except ValueError:
            found.errors.append(FieldError("", text(request, BAD_CURSOR)))
    return found


async def _readable_unit(request: Request, code: str | None, read: str) -> TenantInfo | Response:
    """The unit named (default: the acting unit) if in scope and its log readable by the caller; else
    the page saying why (404, or the refusal with its reason, audited as for any console refusal)."""
    return await permitted_unit(request, code, read, READS[read].permission)


def _detail(entry: AuditEntry) -> str:
    shown = json.dumps(json.loads(entry.detail), ensure_ascii=False, sort_keys=True)
    return shown if len(shown) <= MAX_DETAIL else shown[: MAX_DETAIL - 1] + "…"


async def _page(
    request: Request, unit: TenantInfo, found: Filter, report: ChainReport | None = None, status: int = 200
) -> Response:
    rows: list[AuditEntry] = []
    if not found.errors:
        read = partial(
            audit_query.read_page,
            console_of(request).kernel.db,
            root_id=unit.id,
            tenant_ids=frozenset({unit.id}),
            where=found.where,
            limit=PAGE_SIZE + 1,
            after=found.after,
        )
        rows = await run_in_threadpool(read)
    older = encode_after(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else ""
    entries = [
        {
            "seq": r.seq,
            "at": aware(r.at),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "detail": _detail(r),
        }
        for r in rows[:PAGE_SIZE]
    ]
    values = {
        "unit": unit,
        "fields": found.fields,
        "errors": found.errors,
        "field_errors": errors_by_field(found.errors),
        "entries": entries,
        "older": older,
        "paged": found.after is not None,
        "report": report,
    }
    return render(request, "audit.html", values, status=400 if found.errors else status)


async def audit_log(request: Request) -> Response:
    unit = await _readable_unit(request, request.query_params.get("unit"), "audit.read")
    if isinstance(unit, Response):
        return unit
    return await _page(request, unit, read_filter(request))


async def verify_chain(request: Request) -> Response:
    try:
        fields = await form_of(request)
    except ValidationFailed as exc:
        unit = await _readable_unit(request, None, "audit.verify")
        if isinstance(unit, Response):
            return unit
        return await _page(request, unit, Filter({}, errors=[FieldError("", exc.message)]))
    unit = await _readable_unit(request, fields.get("unit"), "audit.verify")
    if isinstance(unit, Response):
        return unit
    [report] = await run_in_threadpool(verify_chains, console_of(request).kernel.db, [unit.id])
    return await _page(request, unit, Filter({}), report)


routes = [
    Route("/audit", audit_log, methods=["GET"]),
    Route("/audit/verify", verify_chain, methods=["POST"]),
]
