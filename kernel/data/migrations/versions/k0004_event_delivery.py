"""Event delivery state: per-plugin progress of an event being delivered, and the retry time
of an event whose last delivery round had a failure.

Revision ID: k0004
Revises: k0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "k0004"
down_revision = "k0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("kernel_event", sa.Column("retry_at", TIMESTAMP))
    op.create_table(
        "kernel_event_delivery",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("kernel_event.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("plugin", sa.String(40), nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "plugin"),
    )


def downgrade() -> None:
    op.drop_table("kernel_event_delivery")
    with op.batch_alter_table("kernel_event") as batch:
        batch.drop_column("retry_at")
