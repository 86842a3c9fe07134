"""Kernel base: tenant tree, audit log, and (PostgreSQL) the application role and RLS.

Revision ID: k0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from nentang.sdk.migrations import enable_tenant_isolation

revision = "k0001"
down_revision = None
branch_labels = ("kernel",)
depends_on = None

PATH_TYPE = sa.String(1024).with_variant(postgresql.VARCHAR(1024, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kernel_tenant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("division_type", sa.String(64)),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("kernel_tenant.id")),
        sa.Column("path", PATH_TYPE, nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("kind IN ('central', 'province', 'commune', 'unit')", name="kernel_tenant_kind"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="kernel_tenant_status"),
    )
    op.create_index("ix_kernel_tenant_code", "kernel_tenant", ["code"], unique=True)
    op.create_index("ix_kernel_tenant_parent_id", "kernel_tenant", ["parent_id"])
    op.create_index("ix_kernel_tenant_path", "kernel_tenant", ["path"])

    op.create_table(
        "kernel_audit",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq"),
    )
    op.create_table(
        "kernel_audit_head",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_security(context.config.attributes.get("app_role", "nentang_app"))
    else:
        _sqlite_append_only()


def _sqlite_append_only() -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER kernel_audit_no_{verb.lower()} BEFORE {verb} ON kernel_audit "
            "BEGIN SELECT RAISE(ABORT, 'kernel_audit is append-only: entries cannot be changed or deleted'); END"
        )


def _postgresql_security(role: str) -> None:
    # Look before creating: CREATE ROLE checks CREATEROLE before it notices the role exists, so a
    # role a DBA made beforehand must not make the owner need CREATEROLE after all.
    op.execute(
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS;
              END IF;
            EXCEPTION WHEN duplicate_object THEN NULL;
            END $$"""
    )
    op.execute(f'GRANT "{role}" TO CURRENT_USER')
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    op.execute(f'GRANT SELECT ON alembic_version TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON kernel_tenant TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON SEQUENCE kernel_tenant_id_seq TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON kernel_audit TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON kernel_audit_head TO "{role}"')
    # Tables that plugin migrations create later are usable by the app role without a grant each.
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}"')
    op.execute(
        """CREATE FUNCTION kernel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             RAISE EXCEPTION 'kernel_audit is append-only: entries cannot be changed or deleted'
               USING ERRCODE = 'insufficient_privilege';
           END $$"""
    )
    op.execute(
        "CREATE TRIGGER kernel_audit_append_only BEFORE UPDATE OR DELETE ON kernel_audit "
        "FOR EACH ROW EXECUTE FUNCTION kernel_audit_append_only()"
    )
    enable_tenant_isolation(op, "kernel_audit")
    enable_tenant_isolation(op, "kernel_audit_head")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS kernel_audit_append_only ON kernel_audit")
        op.execute("DROP FUNCTION IF EXISTS kernel_audit_append_only()")
    op.drop_table("kernel_audit_head")
    op.drop_table("kernel_audit")
    op.drop_table("kernel_tenant")
