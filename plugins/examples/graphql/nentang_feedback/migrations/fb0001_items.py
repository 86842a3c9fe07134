"""feedback: the feedback table, isolated by tenant.

Revision ID: fb0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk import enable_tenant_isolation

revision = "fb0001"
down_revision = None
branch_labels = ("feedback",)
depends_on = "kernel"


def upgrade() -> None:
    op.create_table(
        "feedback_item",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("submitted_by", sa.String(128), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "number"),
    )
    enable_tenant_isolation(op, "feedback_item")


def downgrade() -> None:
    op.drop_table("feedback_item")
