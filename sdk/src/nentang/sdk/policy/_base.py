"""The policy's finding, and what one file's check knows while it runs."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, final

from nentang.sdk.policy._scope import Scopes
from nentang.sdk.policy.capabilities import Allowance

Severity = Literal["error", "warning"]
#: Private names the frameworks set on instances: never the plugin's own, even through ``self``.
FRAMEWORK_PRIVATE = ("_sa_", "_sqlmodel", "__pydantic", "_abc_", "__strawberry")


@final
@dataclass(frozen=True, slots=True)
class PolicyFinding:
    """One use the policy refuses: a stable code (``static.<reason>``), ``file:line``, and what to do."""

    code: str
    location: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code} at {self.location}: {self.message}"


@final
@dataclass(frozen=True, slots=True)
class PluginFacts:
    """What the plugin is allowed beyond the lists: its own package, the plugins it requires, its capabilities."""

    #: ``nentang_<name>``: the plugin's own import package.
    package: str
    #: The import packages of the plugins its manifest's ``[requires]`` names.
    required: frozenset[str] = frozenset()
    allowance: Allowance = field(default_factory=Allowance)
    #: The plugin's modules and what they define at module level (``nentang_x.models.Notice``).
    definitions: frozenset[str] = frozenset()
    #: The plugin's classes (by name) and their instance methods.
    methods: Mapping[str, frozenset[str]] = field(default_factory=dict)

    #: The private names the plugin's package defines (class bodies, ``self._x =``, module level).
    private_names: frozenset[str] = frozenset()

    def defines(self, dotted: str) -> bool:
        return dotted in self.definitions

    def owns_private(self, name: str) -> bool:
        """A private name the plugin defined (a framework's names on its instances are never its own)."""
        return name in self.private_names and not name.startswith(FRAMEWORK_PRIVATE)


class FileCheck:
    """The state of checking one file: its scopes, where it is, and the findings so far."""

    def __init__(self, rel: str, tree: ast.Module, facts: PluginFacts, *, in_migrations: bool) -> None:
        self.rel = rel
        self.facts = facts
        self.in_migrations = in_migrations
        self.scopes = Scopes(tree, frozenset({facts.package}), facts.defines)
        self.findings: list[PolicyFinding] = []

    @property
    def parents(self) -> dict[ast.AST, ast.AST]:
        return self.scopes.parents

    def add(self, node: ast.AST, code: str, message: str, *, sql_statement: bool = False) -> None:
        """Record a finding; ``sql_statement``: SQL the plugin builds (a warning in ``migrations/``)."""
        severity: Severity = "error"
        if self.in_migrations and sql_statement:
            # migrations run as the schema owner: the reviewer reads their SQL, it is not refused
            code, severity = "static.migration_sql", "warning"
            message = f"{message} — runs as the schema owner; the reviewer must read it"
        finding = PolicyFinding(code, f"{self.rel}:{getattr(node, 'lineno', 0)}", message, severity)
        if finding not in self.findings:
            self.findings.append(finding)


__all__ = ["FileCheck", "PluginFacts", "PolicyFinding", "Severity"]
