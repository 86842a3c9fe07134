"""goodnotes: the notes table, isolated by tenant.

Revision ID: g0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk import enable_tenant_isolation

revision = "g0001"
down_revision = None
branch_labels = ("goodnotes",)
depends_on = "k0001"


def upgrade() -> None:
    op.create_table(
        "goodnotes_note",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("body", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    enable_tenant_isolation(op, "goodnotes_note")


def downgrade() -> None:
    op.drop_table("goodnotes_note")
