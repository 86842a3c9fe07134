"""OIDC sign-ins in progress: one single-use, expiring row per started login, so the callback may
reach any worker process.

Revision ID: k0005
Revises: k0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "k0005"
down_revision = "k0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kernel_oidc_login",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("return_to", sa.String(2048), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_kernel_oidc_login_created_at", "kernel_oidc_login", ["created_at"])


def downgrade() -> None:
    op.drop_table("kernel_oidc_login")
