"""Which plugin's code is running now, for the parts of the kernel that must refuse it things.

Plugins run in the worker's process and often inside the kernel's own transaction (a hook shares
the caller's session), so "who issues this statement" cannot be read off the session. The kernel
marks each plugin call instead: the dispatcher around every hook implementation, the GraphQL
layer around a plugin's resolver and its ``run`` work. The runtime guard (tables a plugin may
touch) and the watchdog (how long it may take) read the marker; a plugin cannot clear it without
reaching kernel internals, which the review refuses.

Kernel services a plugin calls through its context (``ctx.emit``, ``ctx.audit``) run
:func:`on_behalf_of_plugin`: their statements are the kernel's, on the kernel's tables.

The marker is a :class:`~contextvars.ContextVar`, so it follows the call into the thread pool
(``run_in_threadpool`` copies the context) and never leaks into another request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Final, final


@final
@dataclass(frozen=True, slots=True)
class PluginCall:
    """One call into a plugin: whose code, for which tenant, through which entry point."""

    plugin: str
    tenant_id: int
    #: The hook (``"nentang_plugin_enable"``) or GraphQL field (``"Query.feedbackItems"``) called,
    #: for messages and logs.
    entry: str
    #: The tables this code may touch: the plugin's own and those its declared dependencies publish.
    #: The runtime guard and SQLite's authorizer refuse every other table while the call runs.
    tables: frozenset[str] = frozenset()


#: Threads the watchdog is stopping (past their call's deadline): SQLite's progress handler
#: interrupts the statement such a thread is running, so that the stop lands once Python runs again.
STOPPING: Final[set[int]] = set()
#: Thread -> how to cancel the database statement it waits for now (PostgreSQL: the server runs
#: it, so no signal to the thread reaches it); the watchdog calls it when it stops the thread.
CANCELS: Final[dict[int, Callable[[], None]]] = {}

_CURRENT: Final[ContextVar[PluginCall | None]] = ContextVar("nentang.plugin_call", default=None)


def current_call() -> PluginCall | None:
    """The plugin call whose code runs now, or ``None`` when the kernel's own code runs."""
    return _CURRENT.get()


#: Mark a call as running (``enter(call)``), giving a token back for :data:`leave`. The hot dispatch
#: path uses these two directly: a context manager per hook call would cost more than the marker,
#: and so would a function wrapping them (they are the variable's own bound methods).
enter: Final[Callable[[PluginCall | None], Token[PluginCall | None]]] = _CURRENT.set
leave: Final[Callable[[Token[PluginCall | None]], None]] = _CURRENT.reset


@contextmanager
def plugin_call(plugin: str, tenant_id: int, entry: str, tables: frozenset[str] = frozenset()) -> Iterator[PluginCall]:
    """Run the block as ``plugin``'s code for the tenant, touching only ``tables``."""
    call = PluginCall(plugin, tenant_id, entry, tables)
    token = _CURRENT.set(call)
    try:
        yield call
    finally:
        _CURRENT.reset(token)


@contextmanager
def on_behalf_of_plugin() -> Iterator[PluginCall | None]:
    """Run the block as the kernel's code, inside a plugin call (a service the plugin asked for).

    Yields the plugin call it interrupts, so the service can name the plugin it acts for."""
    token = _CURRENT.set(None)
    try:
        yield token.old_value if isinstance(token.old_value, PluginCall) else None
    finally:
        _CURRENT.reset(token)
