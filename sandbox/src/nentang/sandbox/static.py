"""The static import policy: what a plugin's source may not do, read from its syntax tree.

Nothing is imported or run. Every ``.py`` file of the installed package is parsed, and each use
of a denied facility becomes a finding at ``file:line``:

- ``static.denied_import`` — process, socket, FFI, raw database drivers, code loaders
  (``subprocess``, ``socket``, ``ctypes``, ``multiprocessing``, ``sqlite3``, ``psycopg``, ``importlib``, ...);
- ``static.network_import`` — an HTTP client without an ``http:outbound:<host>`` capability;
- ``static.os_call`` — ``os.system``, ``os.popen``, ``os.exec*``, ``os.spawn*``, ``os.fork``, ``os.kill``;
- ``static.dynamic_code`` — ``eval``, ``exec``, ``compile``;
- ``static.dynamic_import`` — ``__import__``, ``importlib.import_module`` and the like;
- ``static.env_read`` — ``os.environ``/``os.getenv`` other than a constant name declared as ``env:<NAME>``;
- ``static.raw_sql`` — SQL that bypasses the tenant session: ``text()``, ``exec_driver_sql``, raw DBAPI
  connections and cursors, SQL statements in string literals (in ``migrations/`` these are
  warnings: migrations run as the schema owner and must be read by the reviewer);
- ``static.kernel_import`` — anything of ``nentang`` but the SDK (the kernel's internals are not an API);
- ``static.reflection`` — reaching around the sandbox: ``__builtins__``, ``__subclasses__``, ``__globals__``,
  ``sys.modules``, ``sys._getframe``, ``sys.settrace``, ``sys.addaudithook``, ``gc``.

Names are resolved through the file's imports (``import os as o``, ``from os import system``), so
an alias does not hide a call. What cannot be seen statically (a name built at run time) is the
behaviour trace's job.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from nentang.sandbox.capabilities import HTTP_CLIENT_MODULES, Allowance
from nentang.sandbox.findings import ReviewFinding

#: Top-level modules a plugin may not import, with the reason shown to its author.
DENIED_MODULES: Final = {
    "subprocess": "starts processes",
    "socket": "opens network sockets",
    "_socket": "opens network sockets",
    "ssl": "opens network connections",
    "socketserver": "serves network connections",
    "ctypes": "calls native code",
    "_ctypes": "calls native code",
    "cffi": "calls native code",
    "multiprocessing": "starts processes",
    "concurrent": "starts processes or threads outside the kernel's control",
    "pty": "starts processes",
    "signal": "changes the worker's signal handling",
    "sqlite3": "opens a database connection outside the tenant session",
    "psycopg": "opens a database connection outside the tenant session",
    "psycopg2": "opens a database connection outside the tenant session",
    "pymysql": "opens a database connection outside the tenant session",
    "importlib": "loads code by name at run time",
    "imp": "loads code by name at run time",
    "runpy": "runs code by name",
    "code": "runs code from strings",
    "codeop": "compiles code from strings",
    "builtins": "reaches the interpreter's built-ins",
    "marshal": "loads code objects",
    "gc": "reaches every object in the worker (other tenants' data, secrets)",
    "urllib": "opens network connections",
    "http": "opens network connections",
    "requests": "opens network connections (use httpx with an http:outbound capability)",
    "urllib3": "opens network connections (use httpx with an http:outbound capability)",
    "aiohttp": "opens network connections (use httpx with an http:outbound capability)",
    "ftplib": "opens network connections",
    "smtplib": "opens network connections",
    "telnetlib": "opens network connections",
    "xmlrpc": "opens network connections",
}
#: Submodules of denied packages that are harmless (metadata and resource reading).
ALLOWED_SUBMODULES: Final = frozenset({"importlib.metadata", "importlib.resources", "urllib.parse", "http.HTTPStatus"})
_HTTP_ALLOWED_NAMES: Final = frozenset({"http.HTTPStatus", "http.HTTPMethod"})

_OS_CALLS: Final = re.compile(r"^os\.(system|popen|fork|forkpty|kill|killpg|posix_spawnp?|exec\w*|spawn\w*)$")
_DYNAMIC_CODE: Final = frozenset({"eval", "exec", "compile", "builtins.eval", "builtins.exec", "builtins.compile"})
_DYNAMIC_IMPORT: Final = re.compile(r"^(__import__|builtins\.__import__|importlib\.\w+.*|imp\.\w+)$")
_ENV: Final = frozenset({"os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv", "os.unsetenv"})
_TEXT_SQL: Final = frozenset(
    {"sqlalchemy.text", "sqlmodel.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "text"}
)
_RAW_SQL_METHODS: Final = frozenset({"exec_driver_sql", "raw_connection", "cursor", "executescript"})
_RAW_SQL_ATTRS: Final = frozenset({"driver_connection", "dbapi_connection"})
_REFLECTION_ATTRS: Final = frozenset({"__builtins__", "__subclasses__", "__globals__", "__code__", "__closure__"})
_REFLECTION_NAMES: Final = frozenset(
    {"__builtins__", "sys.modules", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.addaudithook", "globals"}
)
_SQL: Final = re.compile(
    r"^\s*(select\b[\s\S]*\bfrom\b|insert\s+into\b|update\s+\w+\s+set\b|delete\s+from\b|"
    r"(create|drop|alter|truncate)\s+(table|index|view|policy|role|schema|database)\b|pragma\b|attach\b|"
    r"(set|reset)\s+(role|session)\b|grant\b|copy\s+\w+)",
    re.IGNORECASE,
)


def check_package(package_dir: Path, allowance: Allowance, *, label: str | None = None) -> list[ReviewFinding]:
    """Every finding of the import policy over the installed package at ``package_dir``."""
    findings: list[ReviewFinding] = []
    root = label or package_dir.name
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = f"{root}/{path.relative_to(package_dir).as_posix()}"
        in_migrations = "migrations" in path.relative_to(package_dir).parts
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError as exc:
            findings.append(ReviewFinding("static", "static.syntax", f"{rel}:{exc.lineno}", f"cannot parse: {exc.msg}"))
            continue
        findings.extend(_FileChecker(rel, allowance, in_migrations=in_migrations).run(tree))
    return findings


class _FileChecker:
    def __init__(self, rel: str, allowance: Allowance, *, in_migrations: bool) -> None:
        self.rel = rel
        self.allowance = allowance
        self.in_migrations = in_migrations
        #: Local name → the dotted name it stands for (from the file's imports).
        self.aliases: dict[str, str] = {}
        self.findings: list[ReviewFinding] = []
        self.parents: dict[ast.AST, ast.AST] = {}

    def run(self, tree: ast.Module) -> list[ReviewFinding]:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        docstrings = set(_docstrings(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._import(node, alias.name)
                    self.aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    self._import(node, node.module if full not in ALLOWED_SUBMODULES else full, imported_name=full)
                    self.aliases[alias.asname or alias.name] = full
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Attribute | ast.Name):
                self._reference(node)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node not in docstrings
                and _SQL.match(node.value)
            ):
                self._raw_sql(node, f"SQL statement in a string: {node.value.strip()[:60]!r}")
        return self.findings

    # -- reporting --------------------------------------------------------------------------

    def _add(self, node: ast.AST, code: str, message: str, severity: str = "error") -> None:
        line = getattr(node, "lineno", 0)
        finding = ReviewFinding(
            "static", code, f"{self.rel}:{line}", message, "warning" if severity == "warning" else "error"
        )
        if finding not in self.findings:
            self.findings.append(finding)

    def _raw_sql(self, node: ast.AST, what: str) -> None:
        if self.in_migrations:
            self._add(node, "static.migration_sql", f"{what} — runs as the schema owner; read it", "warning")
        else:
            self._add(node, "static.raw_sql", f"{what} bypasses the tenant-bound session; query mapped classes")

    # -- rules ------------------------------------------------------------------------------

    def _import(self, node: ast.AST, module: str, imported_name: str | None = None) -> None:
        top = module.split(".")[0]
        name = imported_name or module
        if top == "nentang" and not (module == "nentang.sdk" or module.startswith("nentang.sdk.")):
            self._add(node, "static.kernel_import", f"imports {name}: plugins use the SDK (nentang.sdk) only")
            return
        if module in ALLOWED_SUBMODULES or name in ALLOWED_SUBMODULES or name in _HTTP_ALLOWED_NAMES:
            return
        if top in HTTP_CLIENT_MODULES:
            if not self.allowance.allows_module(top):
                self._add(
                    node,
                    "static.network_import",
                    f"imports {top}, but the manifest declares no 'http:outbound:<host>' capability",
                )
            return
        if top in DENIED_MODULES:
            self._add(node, "static.denied_import", f"imports {name}: {DENIED_MODULES[top]}")

    def _call(self, node: ast.Call) -> None:
        name = self._dotted(node.func)
        if name is None:
            if isinstance(node.func, ast.Attribute) and node.func.attr in _RAW_SQL_METHODS:
                self._raw_sql(node, f".{node.func.attr}()")
            return
        if _OS_CALLS.match(name):
            self._add(node, "static.os_call", f"calls {name}(): starts or signals processes")
        elif name in _DYNAMIC_CODE:
            self._add(node, "static.dynamic_code", f"calls {name}(): runs code built from data")
        elif (
            _DYNAMIC_IMPORT.match(name)
            and name not in ALLOWED_SUBMODULES
            and not name.startswith(("importlib.metadata", "importlib.resources"))
        ):
            self._add(node, "static.dynamic_import", f"calls {name}(): loads a module chosen at run time")
        elif name in _TEXT_SQL and (name != "text" or "text" in self.aliases):
            self._raw_sql(node, f"{name}() (a raw SQL string)")
        elif name.split(".")[-1] in _RAW_SQL_METHODS and isinstance(node.func, ast.Attribute):
            self._raw_sql(node, f".{name.split('.')[-1]}()")
        elif name in {"getattr", "setattr", "delattr"} and len(node.args) >= 2:
            target = self._dotted(node.args[0])
            if (
                not isinstance(node.args[1], ast.Constant)
                and target is not None
                and target.split(".")[0] in (set(DENIED_MODULES) | {"os", "sys"})
            ):
                self._add(node, "static.reflection", f"{name}() on {target} with a name built at run time")
            elif isinstance(node.args[1], ast.Constant) and str(node.args[1].value) in _REFLECTION_ATTRS:
                self._add(node, "static.reflection", f"{name}(…, {node.args[1].value!r}) reaches around the sandbox")

    def _reference(self, node: ast.Attribute | ast.Name) -> None:
        if isinstance(self.parents.get(node), ast.Attribute):
            return  # judged as part of the longer dotted name
        if isinstance(node, ast.Attribute):
            if node.attr in _REFLECTION_ATTRS:
                self._add(node, "static.reflection", f".{node.attr} reaches around the sandbox")
                return
            if node.attr in _RAW_SQL_ATTRS:
                self._raw_sql(node, f".{node.attr} (the raw database connection)")
                return
        name = self._dotted(node)
        if name is None:
            return
        if name in _REFLECTION_NAMES or name.startswith("sys._") or name.split(".")[0] == "__builtins__":
            self._add(node, "static.reflection", f"uses {name}: reaches around the sandbox")
            return
        env = next((e for e in _ENV if name == e or name.startswith(e + ".")), None)
        if env is not None:
            variable = self._env_variable(node)
            if variable is not None and self.allowance.allows_env(variable):
                return
            shown = f"{env}({variable!r})" if variable else env
            self._add(
                node,
                "static.env_read",
                f"reads the environment ({shown}): the platform's secrets live there; declare 'env:<NAME>' "
                "for one named variable if it is really needed",
            )

    def _env_variable(self, node: ast.AST) -> str | None:
        """The constant variable name read at ``node``, if it is one."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant):
            return str(parent.slice.value)
        if isinstance(parent, ast.Call) and parent.args and isinstance(parent.args[0], ast.Constant):
            return str(parent.args[0].value)  # os.getenv("X")
        if isinstance(node, ast.Attribute) and isinstance(parent, ast.Call):
            return None
        grand = self.parents.get(parent) if parent is not None else None
        if (
            isinstance(parent, ast.Attribute)
            and parent.attr == "get"
            and isinstance(grand, ast.Call)
            and grand.args
            and isinstance(grand.args[0], ast.Constant)
        ):
            return str(grand.args[0].value)  # os.environ.get("X")
        return None

    def _dotted(self, node: ast.AST) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.aliases.get(node.id, node.id)
        return ".".join([base, *reversed(parts)])


def _docstrings(tree: ast.Module) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                yield first.value


def permission_usage(package_dir: Path, manifest: dict[str, Any], *, label: str | None = None) -> list[ReviewFinding]:
    """Declared permissions against those the code checks with a constant name (``has_permission("x")``).

    A permission checked but not declared is an error (no administrator could ever grant it); one
    declared but never checked where the code shows it is a warning (it may be checked by name
    elsewhere, e.g. by a role template only).
    """
    root = label or package_dir.name
    raw = manifest.get("permissions", [])
    declared = {str(p.get("name")) for p in raw if isinstance(p, dict)} if isinstance(raw, list) else set()
    used: dict[str, str] = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"has_permission", "require_permission"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.setdefault(node.args[0].value, f"{root}/{path.relative_to(package_dir).as_posix()}:{node.lineno}")
    findings = [
        ReviewFinding(
            "contract",
            "contract.permission_undeclared",
            where,
            f"checks permission {name!r}, which the manifest does not declare: no one could be granted it",
        )
        for name, where in sorted(used.items())
        if name not in declared and not name.startswith("kernel.")
    ]
    findings += [
        ReviewFinding(
            "contract",
            "contract.permission_unused",
            "nentang-plugin.toml:permissions",
            f"declares {name!r} but no has_permission/require_permission call with that name was seen",
            "warning",
        )
        for name in sorted(declared - set(used))
    ]
    return findings
