"""What a name in a plugin's file stands for, the way Python resolves it — read from the syntax tree.

The policy judges *what* is used, not how it is spelt: ``import os as o`` makes ``o.system`` the
same as ``os.system``, and a plugin's own function called ``open`` or ``cursor`` is its own, not the
built-in. Resolution follows Python's scopes (function, enclosing functions, module, built-ins;
class bodies are skipped from inside their methods), so a name bound somewhere else in the file
does not hide a built-in used here.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, final

_SCOPES: Final = (
    ast.Module,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_FUNCTIONS: Final = (ast.FunctionDef, ast.AsyncFunctionDef)
BUILTIN_NAMES: Final = frozenset(dir(builtins))

Kind = Literal["import", "builtin", "own", "unknown"]


@final
@dataclass(frozen=True, slots=True)
class Resolved:
    """What an expression's leftmost name is: an import (``qualified`` is the dotted name it and the
    attributes after it stand for), a built-in, something the plugin bound itself, or unknown."""

    kind: Kind
    qualified: str = ""
    #: The plugin's own object: a module or class of its package, or ``self``/``cls`` in its methods.
    own_object: bool = False


class Scopes:
    """The bindings of every scope of one file, and the resolution of names through them."""

    def __init__(
        self, tree: ast.Module, own_packages: frozenset[str], own_definition: Callable[[str], bool] | None = None
    ) -> None:
        self.own_packages = own_packages
        #: Whether a dotted name is one of the plugin's modules, or a class or function defined in one.
        self.own_definition = own_definition or (lambda dotted: False)
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        #: scope node → name → the import's dotted target, or "" for any other binding.
        self.bindings: dict[ast.AST, dict[str, str]] = {}
        self.globals_of: dict[ast.AST, set[str]] = {}
        self.own_classes: set[str] = set()
        self.tree = tree
        self._collect(tree)

    # -- building ---------------------------------------------------------------------------------

    def scope_of(self, node: ast.AST) -> ast.AST:
        """The scope a name at ``node`` is looked up in first."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, _SCOPES):
            current = self.parents.get(current)
        return current if current is not None else self.tree

    def _bind(self, scope: ast.AST, name: str, target: str = "") -> None:
        names = self.bindings.setdefault(scope, {})
        if name in self.globals_of.get(scope, set()):
            scope = self.tree
            names = self.bindings.setdefault(scope, {})
        # a name that is an import anywhere in the scope is judged as that import: rebinding it
        # (``os = os``) must not turn the module into the plugin's own object
        if target or name not in names:
            names[name] = target

    def _collect(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Global | ast.Nonlocal):
                self.globals_of.setdefault(self.scope_of(node), set()).update(node.names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self._bind(self.scope_of(node), local, alias.name if alias.asname else local)
            elif isinstance(node, ast.ImportFrom):
                module = self.absolute_module(node)
                for alias in node.names:
                    if alias.name != "*":
                        self._bind(self.scope_of(node), alias.asname or alias.name, f"{module}.{alias.name}")
            elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
                self._bind(self.scope_of(node), node.name)
                if isinstance(node, ast.ClassDef) and isinstance(self.scope_of(node), ast.Module):
                    self.own_classes.add(node.name)
                if not isinstance(node, ast.ClassDef):
                    self._bind_arguments(node, node.args)
            elif isinstance(node, ast.Lambda):
                self._bind_arguments(node, node.args)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                self._bind(self.scope_of(node), node.id)
            elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                self._bind(self.scope_of(node), node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self._bind(self.scope_of(node), node.rest)

    def _bind_arguments(self, function: ast.AST, args: ast.arguments) -> None:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        for arg in every:
            if arg is not None:
                self._bind(function, arg.arg)

    def absolute_module(self, node: ast.ImportFrom) -> str:
        """``from .models import X`` inside the plugin's package names its own package."""
        if node.level == 0:
            return node.module or ""
        own = sorted(self.own_packages)[0] if self.own_packages else ""
        return f"{own}.{node.module}" if node.module else own

    # -- resolving --------------------------------------------------------------------------------

    def lookup(self, name: str, at: ast.AST) -> tuple[ast.AST, str] | None:
        """The scope binding ``name`` as seen from ``at``, and the import target (``""``: not an import)."""
        scope: ast.AST | None = self.scope_of(at)
        first = True
        while scope is not None:
            names = self.bindings.get(scope, {})
            # a class body's names are not visible from the functions inside it
            if (first or not isinstance(scope, ast.ClassDef)) and name in names:
                return scope, names[name]
            if name in self.globals_of.get(scope, set()):
                scope = self.tree
                first = False
                continue
            first = False
            scope = None if scope is self.tree else self.scope_of(scope)
        return None

    def resolve(self, node: ast.AST) -> tuple[Resolved, list[str]]:
        """What the leftmost name of ``node`` (``a`` in ``a.b.c``) is, and the attributes after it."""
        attributes: list[str] = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        attributes.reverse()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
            # only the zero-argument form is the method's own object: super(Cls, ctx) is ctx
            return Resolved("own", "super()", own_object=not node.args and not attributes), attributes
        if not isinstance(node, ast.Name):
            return Resolved("unknown"), attributes
        found = self.lookup(node.id, node)
        if found is None:
            if node.id in BUILTIN_NAMES:
                return Resolved("builtin", ".".join(["builtins", node.id, *attributes])), attributes
            return Resolved("unknown", node.id), attributes
        scope, target = found
        if target:
            qualified = ".".join([target, *attributes])
            # own only as far as the plugin defined it: `helpers.CTX._authz` is not (CTX may hold a context)
            return Resolved("import", qualified, own_object=self.own_definition(qualified)), attributes
        own = (isinstance(scope, ast.Module) and node.id in self.own_classes and not attributes) or self._is_self(
            node.id, scope
        )
        return Resolved("own", ".".join([node.id, *attributes]), own_object=own and not attributes), attributes

    def _is_self(self, name: str, scope: ast.AST) -> bool:
        """``self``/``cls``: the first parameter of a method of a class of this file, never rebound."""
        if not isinstance(scope, _FUNCTIONS) or not isinstance(self.parents.get(scope), ast.ClassDef):
            return False
        if any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in scope.decorator_list):
            return False
        params = [*scope.args.posonlyargs, *scope.args.args]
        if not params or params[0].arg != name:
            return False
        rebound = any(
            isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store | ast.Del) for n in ast.walk(scope)
        )
        return not rebound


def is_maximal(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` is not the value of a longer attribute chain (``a.b`` in ``a.b.c`` is not)."""
    parent = parents.get(node)
    return not (isinstance(parent, ast.Attribute) and parent.value is node)


__all__ = ["BUILTIN_NAMES", "Resolved", "Scopes", "is_maximal"]
