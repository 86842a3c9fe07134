"""Identity and authorisation: users, sessions, API tokens, login throttle, permissions,
roles, grants, and the change-version counters that propagate changes to every worker.

Revision ID: k0002
Revises: k0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "k0002"
down_revision = "k0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kernel_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255)),
        sa.Column("home_tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("oidc_issuer", sa.String(255)),
        sa.Column("oidc_subject", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("last_login_at", TIMESTAMP),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_kernel_user_oidc"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="kernel_user_status"),
    )
    op.create_index("ix_kernel_user_username", "kernel_user", ["username"], unique=True)
    op.create_index("ix_kernel_user_home_tenant_id", "kernel_user", ["home_tenant_id"])

    op.create_table(
        "kernel_web_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("kernel_user.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
    )
    op.create_index("ix_kernel_web_session_user_id", "kernel_web_session", ["user_id"])

    op.create_table(
        "kernel_api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
        sa.Column("revoked_by", sa.String(128)),
        sa.Column("last_used_at", TIMESTAMP),
        sa.UniqueConstraint("tenant_id", "name", name="uq_kernel_api_token_name"),
    )
    op.create_index("ix_kernel_api_token_token_hash", "kernel_api_token", ["token_hash"], unique=True)
    op.create_index("ix_kernel_api_token_tenant_id", "kernel_api_token", ["tenant_id"])

    op.create_table(
        "kernel_login_throttle",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", TIMESTAMP, nullable=False),
        sa.Column("locked_until", TIMESTAMP),
    )

    op.create_table(
        "kernel_permission",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("declared_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "kernel_role",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id")),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("declared_by", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_kernel_role_tenant_name"),
    )
    op.create_index("ix_kernel_role_tenant_id", "kernel_role", ["tenant_id"])
    op.create_index(
        "uq_kernel_role_template_name",
        "kernel_role",
        ["name"],
        unique=True,
        sqlite_where=sa.text("tenant_id IS NULL"),
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.create_table(
        "kernel_role_permission",
        sa.Column("role_id", sa.Integer, sa.ForeignKey("kernel_role.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("permission", sa.String(128), sa.ForeignKey("kernel_permission.name"), primary_key=True),
    )
    op.create_table(
        "kernel_grant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("role_id", sa.Integer, sa.ForeignKey("kernel_role.id"), nullable=False),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("principal", "role_id", "tenant_id", name="uq_kernel_grant"),
    )
    op.create_index("ix_kernel_grant_principal_tenant", "kernel_grant", ["principal", "tenant_id"])
    op.create_index("ix_kernel_grant_tenant_role", "kernel_grant", ["tenant_id", "role_id"])

    op.create_table(
        "kernel_change_version",
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "kernel_change_version",
        "kernel_grant",
        "kernel_role_permission",
        "kernel_role",
        "kernel_permission",
        "kernel_login_throttle",
        "kernel_api_token",
        "kernel_web_session",
        "kernel_user",
    ):
        op.drop_table(table)
