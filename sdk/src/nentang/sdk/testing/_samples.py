"""Sample rows for a plugin's tables, made from the columns alone (the isolation checks write them).

Every column a row needs gets a plain value of its type; ``tenant_id`` is left to the tenant-bound
session, and fields with a default keep it. A model that needs a row of another table first (a
required foreign key) cannot be sampled this way: :class:`UntestableModel` says which column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import secrets
import uuid
from typing import Any


class UntestableModel(Exception):
    """No sample row can be built for the model (the message names the column and why)."""


def sample_row(model: type) -> dict[str, Any]:
    """Keyword arguments that build one valid, new row of ``model``."""
    table = model.__table__  # type: ignore[attr-defined]
    fields = getattr(model, "model_fields", {})
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "tenant_id":
            continue
        field = fields.get(column.key)
        has_default = field is not None and not field.is_required()
        if column.primary_key:
            if field is not None and field.default_factory is not None:
                continue
        elif has_default or column.nullable or column.default is not None or column.server_default is not None:
            continue
        if any(fk.column.table.name != "kernel_tenant" for fk in column.foreign_keys):
            raise UntestableModel(
                f"{model.__name__}.{column.key} refers to another table; the suite cannot make that row first"
            )
        values[column.key] = _value(column)
    return values


def _value(column: Any) -> Any:
    enums = getattr(column.type, "enums", None)
    if enums:
        enum_class = getattr(column.type, "enum_class", None)
        return next(iter(enum_class)) if enum_class is not None else enums[0]
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return next(iter(python_type))
    if python_type is bool:
        return False
    if python_type is int:
        return secrets.randbelow(2**31 - 2) + 1
    if python_type is float:
        return 1.0
    if python_type is decimal.Decimal:
        return decimal.Decimal("1")
    if python_type is dt.datetime:
        return dt.datetime.now(dt.UTC)
    if python_type is dt.date:
        return dt.date.today()
    if python_type is dt.time:
        return dt.time(8, 0)
    if python_type is uuid.UUID:
        return uuid.uuid4()
    if python_type is bytes:
        return b"contract"
    if python_type is dict:
        return {}
    if python_type is list:
        return []
    length = getattr(column.type, "length", None) or 32
    return f"c{secrets.token_hex(16)}"[:length]


__all__ = ["UntestableModel", "sample_row"]
