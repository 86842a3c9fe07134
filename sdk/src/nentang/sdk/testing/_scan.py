"""Reading a plugin's source without running it: the permissions it checks (the plugin policy,
kernel imports included, is :mod:`nentang.sdk.policy`).

The scan parses the files (``ast``); nothing is imported. A permission is found when a call to
``require_permission`` or ``has_permission`` (on a context, a GraphQL request, anything) passes a
string literal, or the name of a module-level string constant of the same file; a console page's
``ConsolePage(..., permission=...)`` (its fourth argument) counts the same, since the kernel checks
it before the page's handler. Any other argument is reported as *dynamic*: the scan cannot tell
which permission it is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

#: Calls whose first argument names a permission.
PERMISSION_CALLS: Final = frozenset({"require_permission", "has_permission"})
#: Values whose ``permission`` (keyword, or the positional argument at this index) the kernel checks.
PERMISSION_VALUES: Final = {"ConsolePage": 3}
#: Folders never scanned (environments, build output, caches, VCS).
SKIPPED_DIRS: Final = frozenset(
    {".git", ".hg", ".venv", "venv", ".tox", ".nox", "build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache"}
)


@final
@dataclass(frozen=True, slots=True)
class SourceHit:
    """Something found in a file: where, and what."""

    path: Path
    line: int
    #: The permission name, or the imported module, or the source of a dynamic argument.
    value: str

    def where(self, root: Path | None = None) -> str:
        shown = self.path
        if root is not None:
            try:
                shown = self.path.relative_to(root)
            except ValueError:
                shown = self.path
        return f"{shown.as_posix()}:{self.line}"


def python_files(root: Path, *, skip: Iterable[str] = ()) -> Iterator[Path]:
    """Every ``.py`` file below ``root`` (or ``root`` itself), sorted, without skipped folders."""
    skipped = SKIPPED_DIRS | set(skip)
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if any(part in skipped or part.endswith(".egg-info") for part in parts):
            continue
        yield path


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return None


@final
@dataclass(frozen=True, slots=True)
class PermissionUse:
    """The permissions a plugin's code checks, and the checks whose permission cannot be read."""

    literal: tuple[SourceHit, ...]
    dynamic: tuple[SourceHit, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(hit.value for hit in self.literal)


def permission_uses(root: Path, *, skip: Iterable[str] = ("tests", "migrations")) -> PermissionUse:
    """The permission checks in the files below ``root`` (tests and migrations left out)."""
    literal: list[SourceHit] = []
    dynamic: list[SourceHit] = []
    for path in python_files(root, skip=skip):
        tree = _parse(path)
        if tree is None:
            continue
        constants = _module_constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = _permission_argument(node, name)
            if first is None:
                continue
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                literal.append(SourceHit(path, node.lineno, first.value))
            elif isinstance(first, ast.Name) and first.id in constants:
                literal.append(SourceHit(path, node.lineno, constants[first.id]))
            else:
                dynamic.append(SourceHit(path, node.lineno, ast.unparse(first)))
    return PermissionUse(tuple(literal), tuple(dynamic))


def _permission_argument(node: ast.Call, name: str) -> ast.expr | None:
    """The argument of ``node`` that names a permission, if it is a permission check at all."""
    if name in PERMISSION_CALLS:
        return node.args[0] if node.args else None
    index = PERMISSION_VALUES.get(name)
    if index is None:
        return None
    keyword = next((k.value for k in node.keywords if k.arg == "permission"), None)
    return keyword if keyword is not None else (node.args[index] if len(node.args) > index else None)


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (or ``NAME: Final = "text"``) assignments."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            constants[node.target.id] = node.value.value
    return constants


__all__ = ["PermissionUse", "SourceHit", "permission_uses", "python_files"]
