"""The tenant table. Ancestors live in a materialised path, so no request needs a recursive query."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel


class TenantKind(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"
    UNIT = "unit"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


#: Which kinds may sit directly under which (``None``: the root). A unit (agency, department,
#: school...) may sit under any tenant, so the tree can be as deep as government needs.
ALLOWED_PARENTS: dict[TenantKind, frozenset[TenantKind | None]] = {
    TenantKind.CENTRAL: frozenset({None}),
    TenantKind.PROVINCE: frozenset({TenantKind.CENTRAL}),
    TenantKind.COMMUNE: frozenset({TenantKind.PROVINCE}),
    TenantKind.UNIT: frozenset(TenantKind),
}

# Paths compare byte-wise on both databases ("C" collation on PostgreSQL), so a subtree is
# the index range [path, path with its last "/" bumped to "0").
PATH_TYPE = sa.String(1024).with_variant(postgresql.VARCHAR(1024, collation="C"), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tenant(SQLModel, table=True):
    __tablename__ = "kernel_tenant"

    id: int | None = Field(default=None, primary_key=True)
    #: The official code: "TW" for the central level, two digits for a province, five for a
    #: commune (as in the ``vietnam-provinces`` data), or an administrator's code for a unit.
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=255)
    kind: TenantKind = Field(sa_type=sa.String(16))
    #: The official division type in Vietnamese ("tỉnh", "phường", "xã", ...) where known.
    division_type: str | None = Field(default=None, max_length=64)
    parent_id: int | None = Field(default=None, foreign_key="kernel_tenant.id", index=True)
    #: Ids from the root down to this tenant, e.g. "/1/7/212/".
    path: str = Field(sa_type=PATH_TYPE, index=True)
    depth: int
    status: TenantStatus = Field(default=TenantStatus.ACTIVE, sa_type=sa.String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


def path_ids(path: str) -> list[int]:
    """The tenant ids on a materialised path, root first."""
    return [int(part) for part in path.strip("/").split("/") if part]


def subtree_upper_bound(path: str) -> str:
    """The smallest string above every path that starts with ``path`` (which ends in "/")."""
    return path[:-1] + "0"
