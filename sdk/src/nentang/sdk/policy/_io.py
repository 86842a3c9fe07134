"""Files, the environment, threads, processes, event-loop networking and code built from data.

A plugin needs none of these to serve a tenant: its data is in its tenant-bound session, its
settings in ``ctx.settings``. What it may declare instead: ``env:<NAME>`` (one environment
variable) and ``http:outbound:<host>`` (``httpx`` to that host) — see
:mod:`nentang.sdk.policy.capabilities`.
"""

from __future__ import annotations

import ast
from typing import Final

from nentang.sdk.policy._base import FileCheck

#: Built-ins refused whatever their arguments: (code, why).
BUILTINS: Final[dict[str, tuple[str, str]]] = {
    "open": ("static.file_access", "opens a file (the database file, /proc/self/environ, other plugins' code)"),
    "eval": ("static.dynamic_code", "runs code built from data"),
    "exec": ("static.dynamic_code", "runs code built from data"),
    "compile": ("static.dynamic_code", "builds code from data"),
    "breakpoint": ("static.dynamic_code", "starts a debugger in the worker"),
    "__import__": ("static.name_from_string", "imports a module named by a string"),
    "help": ("static.name_from_string", "resolves objects from strings (pydoc)"),
    "exit": ("static.process", "stops the worker that serves every tenant"),
    "quit": ("static.process", "stops the worker that serves every tenant"),
    "SystemExit": ("static.process", "stops the worker that serves every tenant"),
    "KeyboardInterrupt": ("static.process", "stops the worker that serves every tenant"),
}
#: Method names that open connections, processes or threads on an event loop, whoever the receiver.
LOOP_METHODS: Final[dict[str, str]] = dict.fromkeys(
    (
        "create_connection",
        "create_datagram_endpoint",
        "create_server",
        "create_unix_connection",
        "create_unix_server",
        "open_connection",
        "open_unix_connection",
        "start_server",
        "sock_connect",
        "sock_sendall",
        "sock_recv",
        "connect_accepted_socket",
        "getaddrinfo",
        "connect_read_pipe",
        "connect_write_pipe",
    ),
    "static.network",
) | {"subprocess_exec": "static.process", "subprocess_shell": "static.process", "run_in_executor": "static.thread"}
_ENV_NAMES: Final = ("os.environ", "os.getenv")


def judge_builtin_call(check: FileCheck, call: ast.Call, name: str) -> None:
    if name in BUILTINS:
        code, why = BUILTINS[name]
        check.add(call, code, f"{name}() {why}")


def judge_builtin_value(check: FileCheck, node: ast.Name, name: str) -> None:
    """A refused built-in passed around (``o = open``) is refused where it is taken."""
    if name in BUILTINS:
        code, why = BUILTINS[name]
        check.add(node, code, f"takes {name} as a value; {name}() {why}")


def judge_loop_method(check: FileCheck, node: ast.Attribute, receiver_is_own: bool) -> None:
    code = LOOP_METHODS.get(node.attr)
    if code is not None and not receiver_is_own:
        check.add(node, code, f".{node.attr} opens connections, processes or threads outside the kernel's control")


def judge_env(check: FileCheck, node: ast.AST, qualified: str) -> bool:
    """``os.environ`` / ``os.getenv``: only a constant name the manifest declares as ``env:<NAME>``.

    Returns whether ``qualified`` was an environment read (judged here).
    """
    env = next((e for e in _ENV_NAMES if qualified == e or qualified.startswith(e + ".")), None)
    if env is None:
        return False
    variable = _env_variable(check, node, qualified)
    if variable is not None and check.facts.allowance.allows_env(variable):
        return True
    shown = f"{env}({variable!r})" if variable else env
    check.add(
        node,
        "static.env_read",
        f"reads the environment ({shown}): the platform's secrets live there; declare 'env:<NAME>' "
        "for one named variable if it is really needed",
    )
    return True


def _env_variable(check: FileCheck, node: ast.AST, qualified: str) -> str | None:
    """The constant variable name read at ``node``: ``os.environ["X"]``, ``os.getenv("X")``,
    ``os.environ.get("X")``; ``None`` for anything else (``os.environ.items()``, a computed name)."""
    parent = check.parents.get(node)
    if qualified == "os.environ" and isinstance(parent, ast.Subscript) and parent.value is node:
        return _constant(parent.slice)
    if qualified in {"os.getenv", "os.environ.get"} and isinstance(parent, ast.Call) and parent.func is node:
        return _constant(parent.args[0]) if parent.args else None
    return None


def _constant(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


__all__ = ["BUILTINS", "LOOP_METHODS", "judge_builtin_call", "judge_builtin_value", "judge_env", "judge_loop_method"]
