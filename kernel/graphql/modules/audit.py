"""The audit log over GraphQL: a tenant's entries (or its subtree's), newest first, filtered and
paged; and the check of a tenant's hash chain (what ``nentang audit verify`` does).

Both need ``kernel.audit.read`` at the tenant named (a grant at an ancestor counts), so a
province's administrator reads its own log and its communes', never another province's. Entries
are read through a session scoped to exactly the tenants asked for (``kernel/audit/query.py``);
each entry's tenant comes through the request's ``TENANT_BY_ID`` loader, so a page of any size
costs the same statements.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from nentang.kernel.audit import query as audit_query
from nentang.kernel.audit.models import AuditEntry as AuditRow
from nentang.kernel.audit.verify import ChainReport, verify_chains
from nentang.kernel.authz.permissions import AUDIT_READ
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.pagination import Connection, bad_cursor, connection, decode_cursor, encode_cursor
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantNotFound


@strawberry.type(name="AuditEntry", description="One administrative act, as recorded in its tenant's hash chain.")
class AuditRecord:
    seq: int = strawberry.field(description="1, 2, 3... per tenant, without gaps; a gap means a deleted entry.")
    at: datetime
    actor: str = strawberry.field(description='Who acted: "user:42", "token:7", "cli:root", "system:seed"...')
    action: str = strawberry.field(description='What was done, "area.verb": "tenant.create", "plugin.enable"...')
    target: str = strawberry.field(description="What it was done to: a tenant code, a plugin, a principal...")
    detail: JSON = strawberry.field(description="The act's details, as recorded.")
    hash: str = strawberry.field(description="SHA-256 over this entry and prevHash.")
    prev_hash: str = strawberry.field(description="The hash of the entry before (64 zeros for the first).")
    tenant_id: strawberry.Private[int]

    @classmethod
    def of(cls, row: AuditRow) -> AuditRecord:
        return cls(
            seq=row.seq,
            at=aware(row.at),
            actor=row.actor,
            action=row.action,
            target=row.target,
            detail=json.loads(row.detail),
            hash=row.hash,
            prev_hash=row.prev_hash,
            tenant_id=row.tenant_id or 0,
        )

    @strawberry.field(description="The tenant whose chain holds the entry.")
    async def tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant:
        found = await info.context.loader(data.TENANT_BY_ID).load(self.tenant_id)
        if found is None:  # the entry's foreign key makes this unreachable
            raise TenantNotFound(f"no tenant with id {self.tenant_id}")
        return Tenant.of(found)


@strawberry.type(description="The outcome of checking one tenant's hash chain.")
class AuditChainReport:
    tenant: Tenant
    ok: bool
    checked: int = strawberry.field(description="Entries read before the first problem (all of them when ok).")
    broken_seq: int | None = strawberry.field(description="The first entry that breaks the chain, if any.")
    reason: str | None = strawberry.field(description="Why that entry breaks the chain.")

    @classmethod
    def of(cls, tenant: TenantInfo, report: ChainReport) -> AuditChainReport:
        return cls(
            tenant=Tenant.of(tenant),
            ok=report.ok,
            checked=report.checked,
            broken_seq=report.broken_seq,
            reason=report.reason or None,
        )


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description=(
            "A tenant's audit log, newest first; with `subtree: true` also the entries of every tenant below it. "
            '`action` is an exact action ("plugin.enable") or a prefix ending with a dot ("authz."); '
            "`since` is inclusive, `until` exclusive, both with a time zone."
        )
    )
    async def audit_log(
        self,
        info: strawberry.Info[GraphQLContext, None],
        tenant: str,
        first: int,
        after: str | None = None,
        subtree: bool = False,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[AuditRecord]:
        ctx = info.context
        found = await data.load_by_code(ctx, tenant)
        ctx.require_at(AUDIT_READ, found)
        first = ctx.page_size(first)
        key = _key(after)
        where = audit_query.AuditFilter(action=action, actor=actor, since=since, until=until).checked()

        def read() -> list[AuditRow]:
            ids = data.subtree_ids(ctx, found) if subtree else frozenset({found.id})
            return audit_query.read_page(
                ctx.kernel.db, root_id=found.id, tenant_ids=ids, where=where, limit=first + 1, after=key
            )

        rows = await ctx.run_sync(read)
        return connection(rows, first, _cursor, AuditRecord.of)

    @strawberry.field(description="Check a tenant's hash chain: every entry present, unaltered, in order.")
    async def verify_audit_chain(self, info: strawberry.Info[GraphQLContext, None], tenant: str) -> AuditChainReport:
        ctx = info.context
        found = await data.load_by_code(ctx, tenant)
        ctx.require_at(AUDIT_READ, found)
        [report] = await ctx.run_sync(verify_chains, ctx.kernel.db, [found.id])
        return AuditChainReport.of(found, report)


def _cursor(row: AuditRow) -> str:
    at, tenant_id, seq = audit_query.key_of(row)
    return encode_cursor(at.isoformat(), tenant_id, seq)


def _key(after: str | None) -> audit_query.AuditKey | None:
    key: tuple[Any, ...] | None = decode_cursor(after, str, int, int)
    if key is None or after is None:
        return None
    try:
        at = datetime.fromisoformat(key[0])
    except ValueError:
        raise bad_cursor(after) from None
    if at.tzinfo is None:
        raise bad_cursor(after)
    return (aware(at), key[1], key[2])


MODULE = KernelModule("audit", queries=(AuditQueries,))
