"""Row-level security on the kernel's platform tables that carry a ``tenant_id``.

``kernel_event``, ``kernel_grant``, ``kernel_role``, ``kernel_api_token``,
``kernel_plugin_policy`` and ``kernel_plugin_quarantine`` are not tenant-owned in the ORM sense:
the kernel reads them across tenants (event delivery, the grant cache, token look-up by hash),
often through one-statement reads outside any session. Their policy therefore has two cases:

- a transaction **bound to tenants** (``nentang.read_tenants`` set: a tenant or subtree session)
  reads only the rows of those tenants and writes only those of ``nentang.write_tenant`` — so a
  raw ``SELECT * FROM kernel_event`` in a plugin's session shows its own tenant's events only;
- a transaction **bound to no tenant** (the platform scope, and the kernel's own reads outside
  sessions) sees and writes every row, as the kernel's delivery and authorisation need.

The tenant-owned tables (``kernel_audit``, ``kernel_plugin_activation``, plugin tables) keep the
stricter SDK policy, under which an unbound transaction sees nothing. Like those, RLS here is
FORCEd, so it holds for the tables' owner too (except a superuser or a BYPASSRLS role).

The setting names are written out here, not imported: a migration must keep meaning what it
meant when it ran.

Revision ID: k0008
Revises: k0007
Create Date: 2026-12-08
"""

from alembic import op

revision = "k0008"
down_revision = "k0007"
branch_labels = None
depends_on = None

TABLES = (
    "kernel_event",
    "kernel_grant",
    "kernel_role",
    "kernel_api_token",
    "kernel_plugin_policy",
    "kernel_plugin_quarantine",
)

_READ_TENANTS = "NULLIF(current_setting('nentang.read_tenants', true), '')"
_WRITE_TENANT = "NULLIF(current_setting('nentang.write_tenant', true), '')"
#: Neither setting: the platform scope (or a kernel read outside any session).
_UNBOUND = f"({_READ_TENANTS} IS NULL AND {_WRITE_TENANT} IS NULL)"
_READ = f"{_UNBOUND} OR tenant_id = ANY (string_to_array({_READ_TENANTS}, ',')::bigint[])"
_WRITE = f"{_UNBOUND} OR tenant_id = {_WRITE_TENANT}::bigint"


def platform_table_statements(table: str) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'CREATE POLICY platform_or_tenant_read ON "{table}" FOR SELECT USING ({_READ})',
        f'CREATE POLICY platform_or_tenant_insert ON "{table}" FOR INSERT WITH CHECK ({_WRITE})',
        f'CREATE POLICY platform_or_tenant_update ON "{table}" FOR UPDATE USING ({_WRITE}) WITH CHECK ({_WRITE})',
        f'CREATE POLICY platform_or_tenant_delete ON "{table}" FOR DELETE USING ({_WRITE})',
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        for statement in platform_table_statements(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        for verb in ("read", "insert", "update", "delete"):
            op.execute(f'DROP POLICY IF EXISTS platform_or_tenant_{verb} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
