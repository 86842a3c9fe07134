"""Audit log reading: indexes for newest-first pages of one tenant's log and of a subtree's.

The GraphQL ``auditLog`` pages by ``(at, tenant_id, seq)`` descending (``kernel/audit/query.py``).
``(tenant_id, at, seq)`` serves one tenant's log; ``(at, tenant_id, seq)`` a subtree's, read by
time with the tenants filtered on the way. Both cost an index entry per append, which the log's
rate (administrative acts) affords.

Revision ID: k0006
Revises: k0005
Create Date: 2026-11-28
"""

from alembic import op

revision = "k0006"
down_revision = "k0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_kernel_audit_tenant_at", "kernel_audit", ["tenant_id", "at", "seq"])
    op.create_index("ix_kernel_audit_at", "kernel_audit", ["at", "tenant_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_kernel_audit_at", table_name="kernel_audit")
    op.drop_index("ix_kernel_audit_tenant_at", table_name="kernel_audit")
