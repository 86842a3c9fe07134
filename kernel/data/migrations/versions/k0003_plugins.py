"""Plugins and events: per-tenant activation (tenant-owned, isolated), policies down the tree,
quarantines, and the event outbox.

Revision ID: k0003
Revises: k0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk.migrations import enable_tenant_isolation

revision = "k0003"
down_revision = "k0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kernel_plugin_activation",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("plugin", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("locked_by", sa.Integer),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "plugin"),
    )
    op.create_index("ix_kernel_plugin_activation_plugin", "kernel_plugin_activation", ["plugin", "enabled"])
    enable_tenant_isolation(op, "kernel_plugin_activation")
    op.create_table(
        "kernel_plugin_policy",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("plugin", sa.String(40), nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "plugin"),
    )
    op.create_table(
        "kernel_plugin_quarantine",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("plugin", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("quarantined_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "plugin"),
    )
    op.create_table(
        "kernel_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivered_at", TIMESTAMP),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_kernel_event_pending", "kernel_event", ["delivered", "tenant_id", "id"])


def downgrade() -> None:
    op.drop_table("kernel_event")
    op.drop_table("kernel_plugin_quarantine")
    op.drop_table("kernel_plugin_policy")
    op.drop_table("kernel_plugin_activation")
