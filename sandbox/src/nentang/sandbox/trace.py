"""The behaviour trace: what the plugin's own code touched while it ran in the sandbox.

Installed by the runner *before* the plugin is imported, with :func:`sys.addaudithook` and a few
wrappers for what the interpreter does not audit. An event counts when a frame of the plugin's
package is on the stack with no kernel or SDK frame between it and the event (for
``compile``/``exec``: when the plugin itself is the caller), so the kernel's own work, even on the
plugin's behalf, is not reported against the plugin. Recorded:

- ``trace.file_write`` — opening a file for writing outside the scratch folder;
- ``trace.file_read`` — reading a file outside the scratch folder, the installed code and Python
  (anything under ``/proc`` included: the process's own environment, memory and maps);
- ``trace.socket`` — creating, binding or connecting a socket, or resolving a name
  (connections and look-ups of hosts declared as ``http:outbound:<host>`` are allowed);
- ``trace.process`` — ``subprocess``, ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.fork``, ``os.kill``;
- ``trace.thread`` — starting a thread (code that runs outside any hook call);
- ``trace.forbidden_import`` — importing a denied module, also through ``__import__``/``importlib``;
- ``trace.dynamic_code`` — ``compile``/``exec``/``eval`` called by the plugin;
- ``trace.env_read`` — reading ``os.environ`` (other than declared ``env:<NAME>`` variables);
- ``trace.raw_connect`` — opening a database connection of its own (``sqlite3.connect``);
- ``trace.raw_sql`` — SQL sent outside the ORM (``text()``, ``exec_driver_sql``, a raw DBAPI cursor).

Each event names the entry point that was running (``hook nentang_event_received``, ``mutation
notes_add``), set by the contract suite around every hook call and GraphQL request. Each event is
appended at once to a JSON-lines file, so a run killed by a limit keeps what it saw.

Limits: the trace runs in the plugin's own process, so it is evidence, not a wall. A plugin
determined to hide could tamper with it; the static policy forbids the reflection that takes,
and the walls (network namespace, read-only file system, resource limits) do not depend on it.
"""

from __future__ import annotations

import _collections_abc
import builtins
import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final

_PROCESS_EVENTS: Final = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill"}
)
_SOCKET_EVENTS: Final = frozenset(
    {"socket.__new__", "socket.bind", "socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname"}
)
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_MAX_EVENTS: Final = 500


class Tracer:
    """Records the plugin's touches; call :meth:`install` once, before the plugin is imported."""

    def __init__(
        self,
        *,
        package_dir: Path,
        trusted_dirs: Iterable[Path],
        scratch: Path,
        readable: Iterable[Path],
        denied_modules: Iterable[str],
        allows_host: Callable[[str], bool],
        allows_env: Callable[[str], bool],
        allows_module: Callable[[str], bool],
        log: IO[str],
        entry_file: Path | None = None,
    ) -> None:
        self.package = str(package_dir) + os.sep
        #: The kernel's and SDK's code: what they do on a plugin's behalf is theirs, not the plugin's.
        #: As loaded (``.dev/nentang/kernel`` is a link to ``kernel/``) and resolved.
        self.trusted = tuple(sorted({str(q) + os.sep for p in trusted_dirs for q in (p, p.resolve())}))
        self.scratch = str(scratch.resolve()) + os.sep
        roots = {str(p).rstrip(os.sep) for p in readable} | {str(p.resolve()).rstrip(os.sep) for p in readable}
        #: Folders (and single files such as ``/etc/localtime``) the plugin may read.
        self.readable = tuple(sorted(r + os.sep for r in roots))
        self.readable_files = frozenset(roots)
        self.denied = frozenset(denied_modules)
        self.allows_host = allows_host
        self.allows_env = allows_env
        self.allows_module = allows_module
        self.log = log
        #: While false (migrations), SQL events are not recorded: migrations are read by the reviewer.
        self.sql_enabled = True
        self.events: list[dict[str, str]] = []
        #: The entry point of the plugin's running now (a hook, a GraphQL field), named in its events.
        #: One attribute, not a context variable: resolvers run on worker threads, and the review
        #: calls one entry point at a time.
        self.entry: str | None = None
        self.entry_file = entry_file
        self._seen: set[tuple[str, str, str]] = set()
        self._busy = threading.local()

    # -- installing ------------------------------------------------------------------------

    def install(self) -> None:
        sys.addaudithook(self._audit)
        self._wrap_imports()
        self._wrap_environ()
        self._wrap_threads()
        self._watch_sql()

    def _wrap_threads(self) -> None:
        """Python 3.11 audits no thread start: wrap ``Thread.start`` and ``_thread.start_new_thread``."""
        import _thread

        tracer = self
        original_start = threading.Thread.start
        original_new = _thread.start_new_thread

        def start(thread: threading.Thread) -> None:
            tracer._record("trace.thread", f"starts a thread ({thread.name})")
            original_start(thread)

        def start_new_thread(function: Any, args: Any, kwargs: Any = None) -> int:
            tracer._record("trace.thread", "starts a thread (_thread)")
            return original_new(function, args, kwargs or {})

        threading.Thread.start = start  # type: ignore[method-assign]
        _thread.start_new_thread = start_new_thread

    def _wrap_imports(self) -> None:
        original_import = builtins.__import__
        original_import_module = importlib.import_module
        tracer = self

        def traced_import(
            name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
        ) -> Any:
            if level == 0:
                tracer._import(name)
            return original_import(name, globals, locals, fromlist, level)

        def traced_import_module(name: str, package: str | None = None) -> Any:
            if not name.startswith("."):
                tracer._import(name)
            return original_import_module(name, package)

        builtins.__import__ = traced_import
        importlib.import_module = traced_import_module

    def _wrap_environ(self) -> None:
        tracer = self
        base = type(os.environ)

        class TracedEnviron(base):  # type: ignore[misc, valid-type]
            def __getitem__(self, key: str) -> str:
                tracer._env(key)
                return super().__getitem__(key)

            def __iter__(self) -> Any:
                tracer._env("*")
                return super().__iter__()

        env = os.environ
        traced = TracedEnviron(env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue)  # type: ignore[attr-defined]
        os.environ = traced  # noqa: B003 - a view of the same environment; os.getenv reads the module's ``environ``: covered too

    def _watch_sql(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.sql.elements import TextClause

        tracer = self

        def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if not tracer.sql_enabled:
                return
            compiled = getattr(context, "compiled", None)
            raw = compiled is None or isinstance(getattr(compiled, "statement", None), TextClause)
            if raw:
                tracer._record("trace.raw_sql", " ".join(statement.split())[:120])

        event.listen(Engine, "before_cursor_execute", before)

    @contextlib.contextmanager
    def entering(self, entry: str) -> Iterator[None]:
        """Name ``entry`` in the events recorded until the block ends (the outer one resumes after)."""
        outer, self.entry = self.entry, entry
        self._mark(entry)
        try:
            yield
        finally:
            self.entry = outer
            self._mark(outer)

    def _mark(self, entry: str | None) -> None:
        """Leave the running entry point where the review finds it if a limit kills the process."""
        if self.entry_file is not None:
            self.entry_file.write_text(entry or "", encoding="utf-8")

    # -- attribution -----------------------------------------------------------------------

    def _plugin_frame(self, start: FrameType | None, *, direct: bool = False) -> FrameType | None:
        frame = start
        depth = 0
        while frame is not None and depth < 80:
            filename = frame.f_code.co_filename
            if filename.startswith(self.package):
                return frame
            if direct or filename.startswith(self.trusted):
                return None
            frame = frame.f_back
            depth += 1
        return None

    def _record(self, code: str, detail: str, *, direct: bool = False, through: frozenset[str] = frozenset()) -> None:
        """Record an event of the plugin's.

        :param direct: only when the plugin itself is the caller (after the tracer's own frames and
            those of the files in ``through``), not a library it called.
        """
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            frame: FrameType | None = sys._getframe(1)
            while frame is not None and (frame.f_code.co_filename == _THIS_FILE or frame.f_code.co_filename in through):
                frame = frame.f_back  # the tracer's own frames (the audit hook, the wrappers)
            frame = self._plugin_frame(frame, direct=direct)
            if frame is None:
                return
            where = f"{frame.f_code.co_filename.removeprefix(self.package)}:{frame.f_lineno}"
            key = (code, detail, where)
            if key in self._seen or len(self.events) >= _MAX_EVENTS:
                return
            self._seen.add(key)
            event = {"code": code, "detail": detail, "location": where}
            if self.entry is not None:
                event["entry"] = self.entry
            self.events.append(event)
            self.log.write(json.dumps(event) + "\n")
            self.log.flush()
        finally:
            self._busy.on = False

    # -- events ----------------------------------------------------------------------------

    def _audit(self, name: str, args: tuple[Any, ...]) -> None:
        if name == "open":
            self._open(args)
        elif name in _SOCKET_EVENTS:
            self._socket(name, args)
        elif name in _PROCESS_EVENTS:
            self._record("trace.process", f"{name} {_short(args)}")
        elif name in {"compile", "exec"}:
            self._record("trace.dynamic_code", f"{name}()", direct=True)
        elif name == "import":
            self._import(str(args[0]))
        elif name == "sqlite3.connect":
            self._record("trace.raw_connect", f"sqlite3.connect({_short(args)})")

    def _open(self, args: tuple[Any, ...]) -> None:
        path, mode, flags = (*args, None, None, None)[:3]
        if not isinstance(path, str | bytes | os.PathLike):
            return  # an already-open descriptor
        text = os.fsdecode(path)
        full = os.path.abspath(text)
        writing = bool(mode and any(c in str(mode) for c in "wax+")) or bool(
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if full.startswith(self.scratch):
            return
        if writing:
            self._record("trace.file_write", f"writes {full} (outside the scratch folder)")
        elif full != "/dev/null" and full not in self.readable_files and not full.startswith(self.readable):
            self._record("trace.file_read", f"reads {full}")

    def _socket(self, name: str, args: tuple[Any, ...]) -> None:
        host = ""
        if name == "socket.connect" and len(args) > 1 and isinstance(args[1], tuple) and args[1]:
            host = str(args[1][0])
        elif name in {"socket.getaddrinfo", "socket.gethostbyname"} and args:
            host = os.fsdecode(args[0]) if isinstance(args[0], str | bytes) else ""
        elif name == "socket.__new__":
            return  # judged at connect/bind: creating is not yet touching
        if host and self.allows_host(host):
            return
        self._record("trace.socket", f"{name} {host or _short(args)}".strip())

    def _import(self, name: str) -> None:
        top = name.split(".")[0]
        if top in self.denied and not self.allows_module(top) and name not in _HARMLESS:
            self._record("trace.forbidden_import", f"imports {name}")

    def _env(self, key: str) -> None:
        if key != "*" and self.allows_env(key):
            return
        # direct: a library reading its own switch (pydantic's PYDANTIC_DISABLE_PLUGINS) while the
        # plugin defines a model is the library's business; ``os.getenv`` and ``Mapping.get`` are the plugin's
        detail = "reads the whole environment" if key == "*" else f"reads ${key}"
        self._record("trace.env_read", detail, direct=True, through=_ENV_HELPERS)


_THIS_FILE: Final = __file__
#: Where ``os.getenv`` and ``Mapping.get`` live (frozen modules report ``<frozen os>``, not their file).
_ENV_HELPERS: Final = frozenset({os.getenv.__code__.co_filename, _collections_abc.Mapping.get.__code__.co_filename})
_HARMLESS: Final = frozenset({"importlib.metadata", "importlib.resources", "urllib.parse"})


def _short(args: tuple[Any, ...]) -> str:
    return repr(args)[:120]
