"""Authorisation tables: declared permissions, roles (templates and custom), grants.

A grant gives a principal ("user:12", "token:7") a role at a tenant; it applies there and at
every tenant below. The casbin model holds only roles → permissions (small, shared); who holds
which role where is read from ``kernel_grant`` into each worker's compact grant table.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from nentang.kernel.tenancy.models import utcnow

TIMESTAMP = sa.DateTime(timezone=True)


class Permission(SQLModel, table=True):
    __tablename__ = "kernel_permission"

    #: "area.object.verb" or "plugin.verb", e.g. "kernel.tenants.create", "forms.submit".
    name: str = Field(primary_key=True, max_length=128)
    description: str = Field(sa_type=sa.Text)
    #: "kernel" or the declaring plugin's name.
    declared_by: str = Field(max_length=64)


class Role(SQLModel, table=True):
    __tablename__ = "kernel_role"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="uq_kernel_role_tenant_name"),
        # templates (tenant_id NULL) are unique by name too; NULLs never collide in a UNIQUE
        sa.Index(
            "uq_kernel_role_template_name",
            "name",
            unique=True,
            sqlite_where=sa.text("tenant_id IS NULL"),
            postgresql_where=sa.text("tenant_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: Where a custom role was defined (usable in that tenant's subtree); ``None`` for a template.
    tenant_id: int | None = Field(default=None, foreign_key="kernel_tenant.id", index=True)
    name: str = Field(max_length=64)
    description: str = Field(default="", sa_type=sa.Text)
    #: "kernel", a plugin's name (templates), or "custom".
    declared_by: str = Field(max_length=64)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)


class RolePermission(SQLModel, table=True):
    __tablename__ = "kernel_role_permission"

    role_id: int = Field(foreign_key="kernel_role.id", primary_key=True, ondelete="CASCADE")
    permission: str = Field(foreign_key="kernel_permission.name", primary_key=True, max_length=128)


class Grant(SQLModel, table=True):
    __tablename__ = "kernel_grant"
    __table_args__ = (
        sa.UniqueConstraint("principal", "role_id", "tenant_id", name="uq_kernel_grant"),
        sa.Index("ix_kernel_grant_principal_tenant", "principal", "tenant_id"),
        sa.Index("ix_kernel_grant_tenant_role", "tenant_id", "role_id"),
        # A role's grants, wherever they are: deleting a role asks whether any remain, and the
        # foreign key's own check on delete needs it as much.
        sa.Index("ix_kernel_grant_role", "role_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: "user:<id>" or "token:<id>".
    principal: str = Field(max_length=64)
    role_id: int = Field(foreign_key="kernel_role.id")
    #: The grant applies at this tenant and every tenant below it.
    tenant_id: int = Field(foreign_key="kernel_tenant.id")
    granted_by: str = Field(max_length=128)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
