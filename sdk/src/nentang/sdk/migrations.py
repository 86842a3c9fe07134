"""Helpers for Alembic migrations of tenant-owned tables (kernel and plugins alike).

Call :func:`enable_tenant_isolation` in the migration that creates a tenant-owned table.
On PostgreSQL it turns on row-level security keyed on two per-transaction settings that
the kernel's data session sets:

- ``nentang.read_tenants``: comma-separated tenant ids the transaction may read;
- ``nentang.write_tenant``: the one tenant id it may insert, update or delete.

With neither set (a raw query that forgot the tenant), a table shows no rows and accepts no
writes. On SQLite it does nothing: the kernel's session filter is the only guard there.
"""

from __future__ import annotations

from typing import Protocol

READ_SETTING = "nentang.read_tenants"
WRITE_SETTING = "nentang.write_tenant"

_READ = f"tenant_id = ANY (string_to_array(NULLIF(current_setting('{READ_SETTING}', true), ''), ',')::bigint[])"
_WRITE = f"tenant_id = NULLIF(current_setting('{WRITE_SETTING}', true), '')::bigint"


class _Operations(Protocol):
    def get_bind(self) -> object: ...
    def execute(self, sqltext: str) -> object: ...


def tenant_isolation_statements(table: str) -> list[str]:
    """The PostgreSQL statements that isolate ``table`` by tenant (for review and tests)."""
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'CREATE POLICY tenant_read ON "{table}" FOR SELECT USING ({_READ})',
        f'CREATE POLICY tenant_insert ON "{table}" FOR INSERT WITH CHECK ({_WRITE})',
        f'CREATE POLICY tenant_update ON "{table}" FOR UPDATE USING ({_WRITE}) WITH CHECK ({_WRITE})',
        f'CREATE POLICY tenant_delete ON "{table}" FOR DELETE USING ({_WRITE})',
    ]


def enable_tenant_isolation(op: _Operations, table: str) -> None:
    """Enforce tenant isolation on ``table`` inside the database (PostgreSQL only)."""
    if _dialect_name(op) != "postgresql":
        return
    for statement in tenant_isolation_statements(table):
        op.execute(statement)


def _dialect_name(op: _Operations) -> str:
    bind = op.get_bind()
    return str(bind.dialect.name)  # type: ignore[attr-defined]


__all__ = [
    "READ_SETTING",
    "WRITE_SETTING",
    "enable_tenant_isolation",
    "tenant_isolation_statements",
]
