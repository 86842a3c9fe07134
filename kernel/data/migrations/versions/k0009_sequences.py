"""Per-tenant sequences (``kernel_sequence``), for race-free numbering through ``ctx.next_number``.

Revision ID: k0009
Revises: k0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from nentang.sdk.migrations import enable_tenant_isolation

revision = "k0009"
down_revision = "k0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kernel_sequence",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("kernel_tenant.id"), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "owner", "name"),
    )
    enable_tenant_isolation(op, "kernel_sequence")


def downgrade() -> None:
    op.drop_table("kernel_sequence")
