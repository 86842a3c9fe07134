"""The base class for tables that belong to one tenant.

A plugin declares its table like this::

    class ForumPost(TenantOwned, table=True):
        __tablename__ = "forum_post"
        id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
        title: str

``tenant_id`` comes first in the primary key, so every table can later be sharded by tenant.
The kernel's tenant-bound data session fills ``tenant_id`` on insert, adds the tenant filter
to every select, update and delete, and refuses rows of another tenant; on PostgreSQL,
row-level security (see :func:`nentang.sdk.migrations.enable_tenant_isolation`) enforces the
same rule inside the database.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

#: The table every ``tenant_id`` refers to (owned by the kernel).
TENANT_TABLE = "kernel_tenant"


class TenantOwned(SQLModel):
    """Mixin for a table whose rows each belong to exactly one tenant."""

    tenant_id: int | None = Field(
        default=None,
        primary_key=True,
        foreign_key=f"{TENANT_TABLE}.id",
        sa_column_kwargs={"autoincrement": False},
        description="The owning tenant; set by the tenant-bound session, never by the caller.",
    )


def is_tenant_owned(entity: object) -> bool:
    """Whether a mapped class (or an instance of one) holds tenant-owned rows."""
    cls = entity if isinstance(entity, type) else type(entity)
    return issubclass(cls, TenantOwned)


__all__ = ["TENANT_TABLE", "TenantOwned", "is_tenant_owned"]
