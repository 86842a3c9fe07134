"""Grants by role: an index for "is this role still granted anywhere?".

Deleting a custom role is refused while grants use it (``authz.role_in_use``); that count, and
the database's foreign-key check when the role row goes, read ``kernel_grant`` by ``role_id``.
The existing indexes lead with the principal or the tenant, so without this one both scan every
grant (millions at national scale) for a rare administrative act.

Revision ID: k0007
Revises: k0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "k0007"
down_revision = "k0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_kernel_grant_role", "kernel_grant", ["role_id"])


def downgrade() -> None:
    op.drop_index("ix_kernel_grant_role", table_name="kernel_grant")
