"""SQLAlchemy and SQLModel: ORM use through the tenant-bound session, nothing that names a table by string.

The session guards the plugin's *mapped classes*; Core constructs that name a table or a column by
string (``table()``, ``column()``, ``Table(...)``, reflection) reach the kernel's and other plugins'
tables, raw SQL and raw connections bypass the session, and SQL functions reach the database's
configuration (``set_config`` widens row-level security). In ``migrations/`` these are warnings:
migrations run as the schema owner, and the reviewer reads them.
"""

from __future__ import annotations

import ast
import re
from typing import Final

from nentang.sdk.policy._base import FileCheck

_ORM_PACKAGES: Final = ("sqlalchemy", "sqlmodel")
#: Names in SQLAlchemy/SQLModel a plugin may not use, with the code and why.
REFUSED: Final[dict[str, tuple[str, str]]] = {}
for _name in ("table", "column", "Table", "MetaData", "TableClause", "ColumnClause", "quoted_name"):
    REFUSED[_name] = (
        "static.sql_table_by_name",
        "names a table or column by string (reaches tables the plugin does not own)",
    )
for _name in ("text", "TextClause", "literal_column", "DDL"):
    REFUSED[_name] = ("static.raw_sql", "is SQL written as text: it bypasses the tenant-bound session")
for _name in ("registry", "declarative_base", "DeclarativeBase", "DeclarativeBaseNoMeta", "as_declarative"):
    REFUSED[_name] = ("static.sql_table_by_name", "maps classes of its own onto any table by name")
for _name in ("inspect", "Inspector", "reflect", "autoload_with", "inspection"):
    REFUSED[_name] = ("static.sql_reflection", "reads the database's schema (every table, the kernel's included)")
for _name in ("create_engine", "engine_from_config", "create_mock_engine", "event", "events", "pool", "engine"):
    REFUSED[_name] = ("static.raw_connection", "opens or hooks a database connection outside the tenant session")
for _name in ("Engine", "Connection", "sessionmaker", "scoped_session", "raw_connection"):
    REFUSED[_name] = ("static.raw_connection", "opens or hooks a database connection outside the tenant session")

#: SQL functions a plugin may call through ``func``: aggregates and value functions, nothing that
#: reads or changes the database's configuration, files or sessions.
ALLOWED_FUNCTIONS: Final = frozenset(
    {"count", "sum", "min", "max", "avg", "coalesce", "nullif", "lower", "upper", "length", "char_length"}
    | {"trim", "ltrim", "rtrim", "substr", "substring", "replace", "concat", "abs", "round", "floor", "ceil"}
    | {"greatest", "least", "date", "strftime", "date_trunc", "extract", "now", "current_date"}
    | {"current_timestamp", "row_number", "rank", "dense_rank", "json_extract", "array_agg", "string_agg"}
)
#: Attributes that hand out the session's engine or the driver's connection, on any object but the plugin's own.
GATEWAYS: Final = frozenset(
    {"get_bind", "bind", "engine", "raw_connection", "driver_connection", "dbapi_connection", "exec_driver_sql"}
    | {"executescript", "connection_proxy", "connection"}
)
#: Attributes that reach every table's metadata (the kernel's too), on any object.
METADATA: Final = frozenset({"metadata", "registry", "sorted_tables"})
SQL_TEXT: Final = re.compile(
    r"^\s*(select\b[\s\S]*\bfrom\b|insert\s+into\b|update\s+\w+\s+set\b|delete\s+from\b|"
    r"(create|drop|alter|truncate)\s+(table|index|view|policy|role|schema|database)\b|pragma\b|attach\b|"
    r"(set|reset)\s+(role|session)\b|grant\b|copy\s+\w+)",
    re.IGNORECASE,
)


def judge_name(check: FileCheck, node: ast.AST, qualified: str) -> None:
    """``qualified`` (resolved through the imports) names a refused SQLAlchemy construct or function."""
    parts = qualified.split(".")
    if parts[0] not in _ORM_PACKAGES:
        return
    if "func" in parts:
        rest = parts[parts.index("func") + 1 :]
        if not rest:
            if _is_value(check, node):
                check.add(
                    node, "static.sql_function", "passes `func` around: call func.<name>() directly", sql_statement=True
                )
        elif rest[0] not in ALLOWED_FUNCTIONS:
            check.add(
                node,
                "static.sql_function",
                f"calls the SQL function {rest[0]!r} (func.{rest[0]}): only "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS))} are allowed",
                sql_statement=True,
            )
        return
    for part in parts[1:]:
        if part in REFUSED:
            code, why = REFUSED[part]
            check.add(
                node, code, f"uses {qualified}, which {why}; query the plugin's mapped classes", sql_statement=True
            )
            return


def judge_attribute(check: FileCheck, node: ast.Attribute, receiver_is_own: bool) -> None:
    """Attribute uses that reach a raw connection or every table, whatever the receiver's name."""
    if node.attr in METADATA:
        check.add(
            node,
            "static.sql_table_by_name",
            f".{node.attr} reaches every table's definition (the kernel's too); query your mapped classes "
            "(if this is an attribute of your own, rename it)",
            sql_statement=True,
        )
    elif node.attr in GATEWAYS and not receiver_is_own:
        check.add(
            node,
            "static.raw_connection",
            f".{node.attr} reaches the database connection behind the tenant-bound session",
            sql_statement=True,
        )
    elif node.attr in {"cursor", "reflect"} and not receiver_is_own and _is_called(check, node):
        code = "static.raw_connection" if node.attr == "cursor" else "static.sql_reflection"
        check.add(node, code, f".{node.attr}() bypasses the tenant-bound session", sql_statement=True)


def judge_call(check: FileCheck, node: ast.Call) -> None:
    for keyword in node.keywords:
        if keyword.arg in {"autoload_with", "autoload"}:
            check.add(
                node, "static.sql_reflection", f"{keyword.arg}= reflects a table from the database", sql_statement=True
            )
    resolved, _ = check.scopes.resolve(node.func)
    parts = resolved.qualified.split(".") if resolved.kind == "import" else []
    if not parts or parts[0] not in _ORM_PACKAGES:
        return
    if parts[-1] in {"Session", "AsyncSession"}:
        check.add(
            node,
            "static.raw_connection",
            f"{resolved.qualified}(...) makes a session of its own, without the tenant binding; use ctx.session",
            sql_statement=True,
        )
    elif parts[-1] in {"relationship", "Relationship"} and any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(node)
    ):
        check.add(
            node,
            "static.sql_table_by_name",
            f"{parts[-1]}() with a string: the ORM resolves it by name among every mapped class (the kernel's "
            "too); pass the class itself",
            sql_statement=True,
        )


def judge_class(check: FileCheck, node: ast.ClassDef) -> None:
    """A mapped class's table is the plugin's: ``__tablename__`` starts with ``<plugin>_``."""
    prefix = check.facts.package.removeprefix("nentang_") + "_"
    for item in node.body:
        targets = (
            item.targets if isinstance(item, ast.Assign) else [item.target] if isinstance(item, ast.AnnAssign) else []
        )
        for target in targets:
            if not isinstance(target, ast.Name) or target.id not in {"__tablename__", "__table__"}:
                continue
            value = getattr(item, "value", None)
            name = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
            if target.id == "__table__" or name is None or not name.startswith(prefix):
                check.add(
                    item,
                    "static.sql_table_by_name",
                    f"maps {node.name} onto the table {name or '(not a constant name)'}: a plugin's tables are "
                    f"named {prefix}<something>",
                    sql_statement=True,
                )


def judge_string(check: FileCheck, node: ast.Constant) -> None:
    if isinstance(node.value, str) and SQL_TEXT.match(node.value):
        check.add(
            node,
            "static.raw_sql",
            f"SQL statement in a string ({node.value.strip()[:60]!r}) bypasses the tenant-bound session",
            sql_statement=True,
        )


def _is_called(check: FileCheck, node: ast.AST) -> bool:
    parent = check.parents.get(node)
    return isinstance(parent, ast.Call) and parent.func is node


def _is_value(check: FileCheck, node: ast.AST) -> bool:
    """Used as a value (assigned, passed), not as the base of an attribute."""
    parent = check.parents.get(node)
    return not (isinstance(parent, ast.Attribute) and parent.value is node)


__all__ = ["ALLOWED_FUNCTIONS", "REFUSED", "judge_attribute", "judge_call", "judge_class", "judge_name", "judge_string"]
