"""rawsql: its notes table, isolated by tenant (the table is fine; the queries are not).

Revision ID: r0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk import enable_tenant_isolation

revision = "r0001"
down_revision = None
branch_labels = ("rawsql",)
depends_on = "k0001"


def upgrade() -> None:
    op.create_table(
        "rawsql_note",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("body", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    enable_tenant_isolation(op, "rawsql_note")


def downgrade() -> None:
    op.drop_table("rawsql_note")
