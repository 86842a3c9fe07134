"""One monotonically increasing version per topic ("authz", "activation", ...)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ChangeVersion(SQLModel, table=True):
    __tablename__ = "kernel_change_version"

    topic: str = Field(primary_key=True, max_length=64)
    version: int = Field(default=0, sa_type=sa.BigInteger)
