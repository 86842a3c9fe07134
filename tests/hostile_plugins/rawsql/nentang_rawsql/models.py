from __future__ import annotations

from sqlmodel import Field

from nentang.sdk import TenantOwned


class Note(TenantOwned, table=True):
    __tablename__ = "rawsql_note"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    body: str = Field(max_length=200)
