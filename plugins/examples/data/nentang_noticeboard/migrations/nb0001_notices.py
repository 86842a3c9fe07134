"""noticeboard: the notices table, isolated by tenant.

Revision ID: nb0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk import enable_tenant_isolation

revision = "nb0001"
down_revision = None
# The plugin's own branch, named after the plugin; it starts from the kernel's branch, whose
# tables (kernel_tenant) it refers to.
branch_labels = ("noticeboard",)
depends_on = "kernel"


def upgrade() -> None:
    op.create_table(
        "noticeboard_notice",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.String(2000), nullable=False),
        sa.Column("posted_by", sa.String(128), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        # the tenant first: every tenant's rows sit together, and the table can be sharded by it
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index("ix_noticeboard_notice_posted", "noticeboard_notice", ["tenant_id", "posted_at"])
    # PostgreSQL: row-level security, so even a query that forgot the tenant sees nothing
    enable_tenant_isolation(op, "noticeboard_notice")


def downgrade() -> None:
    op.drop_table("noticeboard_notice")
