"""What the plugin itself defines, read from all of its package before any file is judged.

Private names are the plugin's own only on objects it defined: its modules, its classes, ``self``
and ``cls`` in its methods. Two ways to make ``self`` something else are refused here: an instance
method taken from its class (``Peek.get(ctx)`` runs ``get`` with ``self = ctx``), and a method
reached through ``type(obj)``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from nentang.sdk.policy._base import FileCheck

_NOT_INSTANCE = frozenset({"staticmethod", "classmethod"})


def private_names(trees: Iterable[ast.Module]) -> frozenset[str]:
    """The private names the package defines: in class bodies, on ``self``/``cls``, at module level."""
    found: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                found.add(node.id)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in {"self", "cls"}
            ):
                found.add(node.attr)
    return frozenset(name for name in found if name.startswith("_"))


def definitions(
    package: str, files: Iterable[tuple[Path, ast.Module]]
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The dotted names of the package's modules and their module-level classes and functions, and
    each class's instance methods (``files``: path relative to the package, parsed tree)."""
    names: set[str] = set()
    methods: dict[str, set[str]] = {}
    for rel, tree in files:
        parts = [package, *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        for end in range(1, len(parts) + 1):
            names.add(".".join(parts[:end]))
        module = ".".join(parts)
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(f"{module}.{node.name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                methods.setdefault(node.name, set()).update(
                    item.name
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not _decorated(item)
                )
    return frozenset(names), {name: frozenset(found) for name, found in methods.items()}


def _decorated(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id in _NOT_INSTANCE for d in function.decorator_list)


def judge_attribute(check: FileCheck, node: ast.Attribute) -> None:
    receiver = node.value
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "type":
        resolved, _ = check.scopes.resolve(receiver.func)
        if resolved.kind == "builtin" and not (node.attr.startswith("__") and node.attr.endswith("__")):
            check.add(
                node,
                "static.unbound_method",
                f"type(…).{node.attr} takes a method off an object's class (it can then run on any object)",
            )
        return
    if not isinstance(receiver, ast.Name):
        return
    resolved, _ = check.scopes.resolve(receiver)
    class_name = resolved.qualified.rsplit(".", 1)[-1]
    if resolved.kind not in {"own", "import"} or node.attr not in check.facts.methods.get(class_name, ()):
        return
    if resolved.kind == "import" and not resolved.own_object:
        return
    if _explicit_self(check, node):
        return
    check.add(
        node,
        "static.unbound_method",
        f"{receiver.id}.{node.attr} takes an instance method off its class: call it on an instance "
        "(otherwise it runs with any object as self)",
    )


def _explicit_self(check: FileCheck, node: ast.Attribute) -> bool:
    """``Base.__init__(self, ...)`` inside a method: the object is the method's own ``self``."""
    call = check.parents.get(node)
    if not (isinstance(call, ast.Call) and call.func is node and call.args and isinstance(call.args[0], ast.Name)):
        return False
    return check.scopes.resolve(call.args[0])[0].own_object and call.args[0].id in {"self", "cls"}


__all__ = ["definitions", "judge_attribute", "private_names"]
