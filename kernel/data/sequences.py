"""Per-tenant sequences: race-free numbering that a plugin asks for through ``ctx.next_number``.

A dossier's reference, a feedback's "số 12": numbers that run 1, 2, 3 within a tenant and must
never be handed out twice, however many workers submit at once. Reading ``max(number) + 1`` races
(two submissions read the same maximum; one fails on the key, or both succeed in a table without
one). Here the next value is one statement — an insert of 1, or on conflict an increment,
returning the value — so the database serialises concurrent callers on the sequence's row, on
SQLite and PostgreSQL alike. The row stays locked until the caller's transaction ends: a number
is given out only if the transaction that took it commits (a rollback gives it back), so the
numbers have no gaps, and concurrent callers of one sequence queue for that moment.

Sequences are keyed by tenant, owner (the plugin) and name: two plugins, or two tenants, never
share one. On PostgreSQL the table has the tenant-owned row-level security policy.
"""

from __future__ import annotations

import re
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from nentang.sdk.errors import ValidationFailed

NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class Sequence(SQLModel, table=True):
    __tablename__ = "kernel_sequence"

    tenant_id: int = Field(foreign_key="kernel_tenant.id", primary_key=True)
    #: The plugin the sequence belongs to.
    owner: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    #: The last value given out.
    value: int = Field(sa_type=sa.BigInteger)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationFailed(
            f"sequence name {name!r} is not valid: 1-64 characters, lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter",
            code="sequence.bad_name",
        )
    return name


def next_value(session: Session, *, tenant_id: int, owner: str, name: str) -> int:
    """The next value of the tenant's sequence ``owner``/``name`` (1 for a new one), in the
    caller's transaction."""
    check_name(name)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Sequence.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(tenant_id=tenant_id, owner=owner, name=name, value=1)
        .on_conflict_do_update(index_elements=["tenant_id", "owner", "name"], set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )
    return int(session.execute(statement).scalar_one())
