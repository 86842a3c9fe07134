"""journal: the journal table, isolated by tenant.

Revision ID: jr0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk import enable_tenant_isolation

revision = "jr0001"
down_revision = None
branch_labels = ("journal",)
depends_on = "kernel"


def upgrade() -> None:
    op.create_table(
        "journal_entry",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("tenant_id", "event_id"),
    )
    enable_tenant_isolation(op, "journal_entry")


def downgrade() -> None:
    op.drop_table("journal_entry")
