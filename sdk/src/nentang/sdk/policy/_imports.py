"""What a plugin may import: the allow-list, and why each refused kind of module is refused.

A plugin's code runs in the kernel's process, next to every tenant's data and the platform's
secrets; the modules below are the ones that compute with what the plugin is given and reach
nothing else. Anything not named here is refused (``static.import_not_allowed``); a module known
to reach something dangerous gets the code of what it reaches.
"""

from __future__ import annotations

from typing import Final

#: Standard-library modules a plugin may use whole: pure computation on values it holds.
#: Left out on purpose: ``os``, ``pathlib``, ``io``, ``shutil``, ``tempfile`` (files); ``sys``,
#: ``gc``, ``inspect``, ``types``, ``traceback``, ``weakref`` (the interpreter's objects and
#: frames); ``importlib``, ``pkgutil``, ``pydoc`` (names resolved from strings); ``threading``,
#: ``concurrent``, ``multiprocessing``, ``subprocess``, ``socket`` (threads, processes, network);
#: ``pickle``, ``marshal`` (code from data); ``time`` (``sleep`` blocks a worker: hooks are short).
STDLIB: Final = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "bisect",
        "calendar",
        "collections",
        "collections.abc",
        "contextlib",
        "copy",
        "csv",
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "fractions",
        "functools",
        "graphlib",
        "hashlib",
        "heapq",
        "hmac",
        "html",
        "ipaddress",
        "itertools",
        "json",
        "keyword",
        "math",
        "numbers",
        "operator",
        "random",
        "re",
        "secrets",
        "statistics",
        "string",
        "struct",
        "textwrap",
        "typing",
        "unicodedata",
        "urllib.parse",
        "uuid",
        "warnings",
        "zoneinfo",
    }
)
#: Modules of which only some names are allowed: module → the names a plugin may use.
LIMITED: Final[dict[str, frozenset[str]]] = {
    # in-memory buffers only (``io.open``, ``FileIO`` reach files)
    "io": frozenset({"StringIO", "BytesIO"}),
    # constants only (``http.client``, ``http.server`` open connections)
    "http": frozenset({"HTTPStatus", "HTTPMethod"}),
    # one declared variable (capability ``env:<NAME>``); every other ``os`` name reaches files or processes
    "os": frozenset({"environ", "getenv"}),
    # a distribution's version; the rest of importlib loads code or reads files by name
    "importlib.metadata": frozenset({"version", "PackageNotFoundError"}),
    # loggers, not handlers (``FileHandler``, ``handlers``, ``config`` write files or open sockets)
    "logging": frozenset(
        {"getLogger", "Logger", "LoggerAdapter", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET"}
    ),
    # coordinating awaits; not event-loop networking, processes, threads or loops of its own
    "asyncio": frozenset(
        {"gather", "sleep", "wait_for", "timeout", "TimeoutError", "CancelledError", "Lock", "Event", "Semaphore"}
        | {"Queue", "shield", "iscoroutinefunction"}
    ),
}
#: Names refused inside otherwise allowed modules.
REFUSED_NAMES: Final[dict[str, tuple[str, str]]] = {
    "contextlib.chdir": ("static.file_access", "changes the worker's current folder"),
    "zoneinfo.reset_tzpath": ("static.file_access", "changes where time zones are read from (any file)"),
    "zoneinfo.ZoneInfo.from_file": ("static.file_access", "reads a file"),
    "string.Formatter": ("static.computed_attribute", "reads attributes named in a string ('{0._db}')"),
    "uuid.getnode": ("static.process", "may start a process to read the machine's address"),
    "uuid.uuid1": ("static.process", "may start a process to read the machine's address (use uuid4)"),
    # these evaluate strings as code (annotations, forward references) or import modules they name
    "typing.get_type_hints": ("static.dynamic_code", "evaluates annotation strings as code"),
    "typing.ForwardRef": ("static.dynamic_code", "evaluates a string as code"),
    "typing_extensions.get_type_hints": ("static.dynamic_code", "evaluates annotation strings as code"),
    "typing_extensions.ForwardRef": ("static.dynamic_code", "evaluates a string as code"),
    "strawberry.lazy": ("static.name_from_string", "imports a module named by a string"),
    "strawberry.LazyType": ("static.name_from_string", "imports a module named by a string"),
    "pydantic.ImportString": ("static.name_from_string", "imports the object a string names"),
    "pydantic.types.ImportString": ("static.name_from_string", "imports the object a string names"),
}
#: Third-party packages (with their submodules) a plugin may depend on. SQLAlchemy's own rules are
#: in :mod:`nentang.sdk.policy._sql`; only its ORM-facing modules are allowed.
THIRD_PARTY: Final = frozenset({"strawberry", "pydantic", "sqlmodel", "typing_extensions"})
SQLALCHEMY_MODULES: Final = frozenset(
    {"sqlalchemy", "sqlalchemy.orm", "sqlalchemy.exc", "sqlalchemy.types", "sqlalchemy.dialects.postgresql"}
)
#: Only in ``migrations/`` (they run as the schema owner, and the reviewer reads them).
MIGRATION_ONLY: Final = frozenset({"alembic"})
SDK: Final = "nentang.sdk"
#: SDK modules a plugin's package may not import (they run kernels, or are the SDK's internals).
SDK_REFUSED: Final = ("nentang.sdk.testing", "nentang.sdk.scaffold", "nentang.sdk.policy")

#: Refused modules with what they reach: (code, reason). The first matching prefix wins.
KNOWN: Final[dict[str, tuple[str, str]]] = {}


def _known(code: str, reason: str, *modules: str) -> None:
    for module in modules:
        KNOWN[module] = (code, reason)


_known("static.file_access", "reads or writes files", "os", "pathlib", "io", "shutil", "tempfile", "glob", "fnmatch")
_known("static.file_access", "reads or writes files", "fileinput", "mmap", "linecache", "zipfile", "tarfile", "dbm")
_known("static.file_access", "reads or writes files", "shelve", "filecmp", "gettext", "mailbox", "posix", "nt")
_known("static.thread", "starts threads or processes outside the kernel's control", "threading", "_thread")
_known("static.thread", "starts threads or processes outside the kernel's control", "concurrent", "sched")
_known(
    "static.process",
    "starts or signals processes",
    "subprocess",
    "multiprocessing",
    "pty",
    "signal",
    "_posixsubprocess",
)
_known(
    "static.network", "opens network connections", "socket", "_socket", "ssl", "socketserver", "asyncio", "selectors"
)
_known("static.network", "opens network connections", "urllib", "http", "ftplib", "smtplib", "telnetlib", "xmlrpc")
_known(
    "static.network", "opens network connections", "imaplib", "poplib", "requests", "urllib3", "aiohttp", "websockets"
)
_known("static.thread", "runs code on threads outside the kernel's control", "asyncio.to_thread", "asyncio.run")
_known("static.thread", "runs an event loop of its own", "asyncio.new_event_loop", "asyncio.get_event_loop")
_known("static.thread", "reaches the worker's event loop", "asyncio.get_running_loop", "asyncio.events")
_known("static.process", "starts processes", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell")
_known("static.raw_connection", "opens a database connection outside the tenant session", "sqlite3", "_sqlite3")
_known("static.raw_connection", "opens a database connection outside the tenant session", "psycopg", "psycopg2")
_known("static.raw_connection", "opens a database connection outside the tenant session", "pymysql", "asyncpg")
_known("static.native_code", "calls native code", "ctypes", "_ctypes", "cffi")
_known("static.name_from_string", "resolves modules and objects from strings", "importlib", "imp", "pkgutil")
_known("static.name_from_string", "resolves modules and objects from strings", "pydoc", "runpy", "zipimport")
_known("static.dynamic_code", "runs code built from data", "code", "codeop", "marshal", "pickle", "dis", "pdb")
_known("static.reflection", "reaches the interpreter's objects", "sys", "gc", "inspect", "types", "builtins")
_known("static.reflection", "reaches the interpreter's objects", "weakref", "atexit", "faulthandler", "tracemalloc")
_known("static.reflection", "reaches the interpreter's objects", "site", "sysconfig", "ast", "symtable")
_known("static.frame_access", "walks frames and tracebacks (other code's variables)", "traceback")
_known("static.frame_access", "walks frames and tracebacks (other code's variables)", "contextvars")


def known(module: str) -> tuple[str, str] | None:
    """The code and reason of a refused module ``module`` (or its package), if it is a known kind."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        hit = KNOWN.get(".".join(parts[:end]))
        if hit is not None:
            return hit
    return None


def limited_module(qualified: str) -> tuple[str, str] | None:
    """``(module, rest)`` when ``qualified`` lies in a module of which only some names are allowed."""
    for module in sorted(LIMITED, key=len, reverse=True):
        if qualified == module or qualified.startswith(module + "."):
            return module, qualified[len(module) + 1 :]
    return None


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


__all__ = ["KNOWN", "LIMITED", "REFUSED_NAMES", "SQLALCHEMY_MODULES", "STDLIB", "THIRD_PARTY", "known", "under"]
