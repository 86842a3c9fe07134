"""Values the contract suite builds: canary rows from a model's columns, settings from a schema."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import uuid
from typing import Any


def subclasses(base: type) -> list[type]:
    seen: list[type] = []
    pending = [base]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in seen:
                seen.append(sub)
                pending.append(sub)
    return seen


def row(model: Any, marker: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.name == "tenant_id":
            continue
        from sqlalchemy import String

        try:
            kind = column.type.python_type
        except NotImplementedError:
            continue
        if isinstance(getattr(column.type, "impl", column.type), String):
            kind = str  # sqlmodel's AutoString reports ``object``
        value = _value(kind, marker, getattr(column.type, "length", None))
        if value is None and (column.nullable or column.default is not None or column.server_default is not None):
            continue
        values[column.key] = value
    return values


def _value(kind: type, marker: str, length: int | None) -> Any:
    if issubclass(kind, str):
        return marker[: length or None]
    if issubclass(kind, bool):
        return False
    if issubclass(kind, int):
        return random.randint(10**6, 10**9)  # not cryptographic: a row key
    if issubclass(kind, float | decimal.Decimal):
        return kind(1.5)
    if issubclass(kind, uuid.UUID):
        return uuid.uuid4()
    if issubclass(kind, dt.datetime):
        return dt.datetime.now(dt.UTC)
    if issubclass(kind, dt.date):
        return dt.date.today()
    if issubclass(kind, dict):
        return {"canary": marker}
    if issubclass(kind, list):
        return [marker]
    if issubclass(kind, bytes):
        return marker.encode()
    return None


def example_settings(schema: Any) -> Any:
    """A small instance of a JSON Schema: defaults, examples, enums, or typed placeholders."""
    if not isinstance(schema, dict):
        return None
    if "default" in schema:
        return schema["default"]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {key: example_settings(props.get(key, {})) for key in required}
    placeholders = {"string": "review", "integer": 1, "number": 1, "boolean": False, "array": []}
    return placeholders.get(kind) if isinstance(kind, str) else None
