"""Strings that are code: annotations and expressions that libraries evaluate.

``typing``, strawberry and pydantic evaluate string annotations (``x: "Foo"``, and every
annotation under ``from __future__ import annotations``) with the module's globals, so
``x: "__import__('os').system('id')"`` runs when the schema is built. A string that parses as an
expression with a call, an attribute or a subscript is therefore judged as the code it is, at the
string's line; so is every string inside an annotation. Prose does not parse and is left alone.
"""

from __future__ import annotations

import ast
import re
from typing import Final

from nentang.sdk.policy._base import FileCheck

_LONGEST: Final = 2_000
#: Alias keywords that make a library read the attribute they name (pydantic's ``validation_alias``).
_ALIASES: Final = frozenset({"alias", "validation_alias", "serialization_alias"})
_ALIAS_CALLS: Final = frozenset({"AliasPath", "AliasChoices"})
_PRIVATE_NAME: Final = re.compile(r"^_+[A-Za-z0-9]\w*(\.\w+)*$")


def annotation_nodes(tree: ast.Module) -> set[ast.AST]:
    """Every node inside an annotation of ``tree``."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {inner for root in roots for inner in ast.walk(root)}


def as_code(check: FileCheck, node: ast.Constant, in_annotation: bool) -> ast.expr | None:
    """The expression ``node``'s string is, grafted into the file's tree at ``node``, if it is code."""
    text = node.value.strip() if isinstance(node.value, str) else ""
    if not text or len(text) > _LONGEST:
        return None
    try:
        expression = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    inner = list(ast.walk(expression))
    if not in_annotation and not any(isinstance(n, ast.Call | ast.Attribute | ast.Subscript) for n in inner):
        return None
    ast.increment_lineno(expression, getattr(node, "lineno", 1) - 1)
    parent = check.parents.get(node)
    if parent is not None:
        check.parents[expression] = parent
    for outer in inner:
        for child in ast.iter_child_nodes(outer):
            check.parents[child] = outer
    return expression


def judge_alias(check: FileCheck, call: ast.Call) -> None:
    """``Field(validation_alias="_authz")``: a library reads the private attribute the string names."""
    strings = [k.value for k in call.keywords if k.arg in _ALIASES]
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if name in _ALIAS_CALLS:
        strings += call.args
    for value in strings:
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and _PRIVATE_NAME.match(value.value):
            check.add(
                call,
                "static.private_attribute",
                f"the alias {value.value!r} makes the library read a private attribute of the object it is given",
            )


__all__ = ["annotation_nodes", "as_code", "judge_alias"]
