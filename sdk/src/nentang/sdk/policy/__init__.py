"""The static plugin policy: what a plugin's code *may* use, read from its syntax tree; the rest is refused.

One implementation, two callers: the central review (``nentang review``, its ``static`` stage) and
the developer's own ``nentang sdk check`` run this same code, so a provincial developer sees every
finding before submitting. Nothing is imported or run: each ``.py`` file of the plugin's package is
parsed, names are resolved through the file's imports and scopes (``import os as o`` is ``os``; a
plugin's own function called ``open`` is not the built-in), and each refused use is a finding with
a stable code at ``file:line`` (see ``docs/plugin-policy.md`` for the lists):

- imports: ``static.import_not_allowed`` (not on the list), or the kind it reaches —
  ``static.file_access``, ``static.thread``, ``static.process``, ``static.network``,
  ``static.network_import`` (``httpx`` without ``http:outbound:<host>``), ``static.raw_connection``,
  ``static.native_code``, ``static.name_from_string``, ``static.dynamic_code``,
  ``static.reflection``, ``static.frame_access``; ``static.kernel_import``; ``static.plugin_import``
  (another plugin's package not named in ``[requires]``);
- attributes: ``static.private_attribute``, ``static.dunder_access``, ``static.bound_method_owner``,
  ``static.frame_access``, ``static.computed_attribute`` (``getattr`` with a computed name, ``vars``);
- SQL: ``static.sql_table_by_name``, ``static.sql_reflection``, ``static.raw_sql``,
  ``static.raw_connection``, ``static.sql_function`` (warnings, ``static.migration_sql``, in
  ``migrations/``);
- ``static.monkeypatch``: changing a module or class the plugin did not define (shared by every tenant);
- ``static.unbound_method``: an instance method taken off its class (``Peek.get(ctx)`` would run
  with ``self = ctx``), or off ``type(obj)``;
- ``static.env_read``, ``static.file_access`` (``open``), ``static.dynamic_code`` (``eval``);
- ``static.syntax``: a file that does not parse.

What it cannot see — a value whose type is known only at run time, code that was never in the
package — is for the behaviour trace and the kernel's runtime guard.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from nentang.sdk.policy import _own
from nentang.sdk.policy._base import FileCheck, PluginFacts, PolicyFinding
from nentang.sdk.policy._checker import check_tree
from nentang.sdk.policy.capabilities import Allowance, allowance

#: Folders never read (environments, build output, caches).
_SKIPPED = frozenset({"__pycache__", ".venv", "venv", "build", "dist", ".git", ".mypy_cache", ".ruff_cache"})


def check_package(
    package_dir: Path,
    capabilities: Allowance | Iterable[str] = (),
    *,
    requires: Iterable[str] = (),
    label: str | None = None,
) -> list[PolicyFinding]:
    """Every finding of the policy over the plugin package at ``package_dir`` (``nentang_<name>``).

    :param capabilities: the manifest's ``capabilities`` (or their :class:`Allowance`).
    :param requires: the plugin names of the manifest's ``[requires]``; their packages may be imported.
    :param label: how locations start (default: the package folder's name).
    """
    allowed = capabilities if isinstance(capabilities, Allowance) else allowance(capabilities)
    findings: list[PolicyFinding] = []
    root = label or package_dir.name
    parsed: list[tuple[Path, str, ast.Module]] = []
    for path in _python_files(package_dir):
        rel = path.relative_to(package_dir)
        where = f"{root}/{rel.as_posix()}"
        tree = _parse(path, where, findings)
        if tree is not None:
            parsed.append((rel, where, tree))
    names, methods = _own.definitions(package_dir.name, ((rel, tree) for rel, _, tree in parsed))
    facts = PluginFacts(
        package=package_dir.name,
        required=frozenset(f"nentang_{name}" for name in requires),
        allowance=allowed,
        definitions=names,
        methods=methods,
        private_names=_own.private_names(tree for _, _, tree in parsed),
    )
    for rel, where, tree in parsed:
        check = FileCheck(where, tree, facts, in_migrations="migrations" in rel.parts[:-1])
        check_tree(check, tree)
        findings += check.findings
    return findings


def check_kernel_imports(root: Path, *, label: str = "", exclude: Path | None = None) -> list[PolicyFinding]:
    """Kernel imports in every file below ``root`` but ``exclude``: a plugin's tests may use anything but
    the kernel (only ``nentang.sdk`` and its test kit are a plugin's surface)."""
    findings: list[PolicyFinding] = []
    for path in _python_files(root):
        if exclude is not None and path.is_relative_to(exclude):
            continue
        where = "/".join(p for p in (label, path.relative_to(root).as_posix() if root.is_dir() else path.name) if p)
        tree = _parse(path, where, findings)
        if tree is None:
            continue
        for node in ast.walk(tree):
            for module, line in _imported(node):
                if module == "nentang.kernel" or module.startswith("nentang.kernel."):
                    finding = PolicyFinding(
                        "static.kernel_import",
                        f"{where}:{line}",
                        f"imports {module}; a plugin (and its tests) imports only nentang.sdk and nentang.sdk.testing",
                    )
                    if finding not in findings:
                        findings.append(finding)
    return findings


def _imported(node: ast.AST) -> list[tuple[str, int]]:
    if isinstance(node, ast.Import):
        return [(a.name, node.lineno) for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
            return [(node.args[0].value, node.lineno)]
    return []


def _python_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if not any(part in _SKIPPED or part.endswith(".egg-info") for part in path.relative_to(root).parts[:-1])
    ]


def _parse(path: Path, where: str, findings: list[PolicyFinding]) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        message = f"cannot parse: {exc.msg} — the file must be valid Python for the policy to read it"
        findings.append(PolicyFinding("static.syntax", f"{where}:{exc.lineno or 0}", message))
    except (ValueError, OSError) as exc:  # null bytes, an unreadable file
        findings.append(PolicyFinding("static.syntax", f"{where}:0", f"cannot read: {exc}"))
    return None


__all__ = ["Allowance", "PolicyFinding", "allowance", "check_kernel_imports", "check_package"]
