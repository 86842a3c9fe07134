"""Reads behind the plugin part of the schema that the activation service does not answer: the
allow/lock rules set on a tenant's path, and pages of in-memory lists.

Rules live in the platform table ``kernel_plugin_policy`` (not tenant-owned), so one Core
statement through ``ctx.reader`` reads every rule of a tenant's ancestors and of the tenant
itself, for every plugin at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, final

from sqlalchemy import select

from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.pagination import decode_cursor
from nentang.kernel.identity.timeutil import aware
from nentang.kernel.plugins.models import PluginPolicy
from nentang.kernel.tenancy.models import path_ids
from nentang.kernel.tenancy.service import TenantInfo

POLICY = PluginPolicy.__table__  # type: ignore[attr-defined]  # SQLModel's table, for Core reads
T = TypeVar("T")


@final
@dataclass(frozen=True, slots=True)
class Rule:
    """A tenant's rule for one plugin in the tenants below it."""

    tenant_id: int
    plugin: str
    allowed: bool
    locked: bool
    updated_by: str
    updated_at: datetime


def rules_on_path(ctx: GraphQLContext, tenant: TenantInfo) -> dict[str, list[Rule]]:
    """By plugin: the rules set at the central tenant, ..., the parent and ``tenant`` itself, in
    that order (a rule at ``tenant`` governs the tenants below it, not ``tenant``)."""
    path = path_ids(tenant.path)
    position = {tenant_id: i for i, tenant_id in enumerate(path)}
    with ctx.reader.connect() as connection:
        rows = connection.execute(select(POLICY).where(POLICY.c.tenant_id.in_(path)))
        found: dict[str, list[Rule]] = defaultdict(list)
        for row in rows:
            found[row.plugin].append(
                Rule(row.tenant_id, row.plugin, row.allowed, row.locked, row.updated_by, aware(row.updated_at))
            )
    for rules in found.values():
        rules.sort(key=lambda rule: position[rule.tenant_id])
    return found


def page_by_name(items: Sequence[T], name: Callable[[T], str], first: int, after: str | None) -> list[T]:
    """The ``first + 1`` items after the cursor ``after`` of a list sorted by name."""
    key = decode_cursor(after, str)
    start = key[0] if key else ""
    return [item for item in items if name(item) > start][: first + 1]
