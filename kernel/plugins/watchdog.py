"""The watchdog: every plugin call has a deadline, and a plugin's resolvers run off the event loop.

Plugins run in the worker's process, so "stop a plugin" can only mean "make its thread raise".
Two kinds of call, two mechanisms, one deadline (``kernel/plugins/call_limits.py``):

- **GraphQL resolvers** (the resolver function itself, and its ``run`` work) are wrapped when a
  schema is built (``kernel/graphql/plugin_resolvers.py``) and run in this worker's *plugin
  threads* (:meth:`Watchdog.run_resolver`), never on the event loop: a ``while True: pass`` in
  a resolver then costs one plugin thread, not the worker. An ``async`` resolver runs on an event
  loop of that thread's own, so it cannot stall the server's loop either. The server's loop only
  awaits the outcome, at most until the deadline (plus a short grace): the caller gets its
  :class:`PluginTimeout` then whatever the thread is doing. The plugin threads are apart from the
  kernel's thread pool, and a plugin may hold only ``concurrency`` of them at once (one
  :class:`asyncio.Semaphore` per plugin): a plugin that hangs in every request exhausts its own
  share, never the kernel's threads or another plugin's.
- **Hooks** are called synchronously inside kernel transactions (the caller's session), usually
  already in a worker thread; moving them to another thread would split the transaction. They run
  where they are called, registered here (:meth:`Watchdog.start` / :meth:`Watchdog.stop`).

For both, a monitor thread looks at the running calls every tick and, past a call's deadline,
raises :class:`Stopped` *in the thread that runs it* (``PyThreadState_SetAsyncExc``). ``Stopped`` is a
:class:`BaseException`, so a plugin's ``except Exception`` does not swallow it; the frames unwind
as for any exception (``finally`` blocks, the session's rollback) and the kernel's wrapper turns it
into :class:`PluginTimeout` for the caller. A plugin that catches ``BaseException`` and goes on is
sent another every :data:`REFIRE_SECONDS` while its call lasts.

A statement the plugin's thread is inside of on the embedded database is stopped too: each SQLite
connection has a progress handler (``kernel/data/sqlite_authorizer.py``) that interrupts the
statement once the thread is in :data:`~nentang.kernel.plugins.running.STOPPING` (a recursive CTE
that never ends would otherwise hold the thread, and its connection, for ever).

What this cannot stop: code blocked in C — ``time.sleep``, a socket read, a lock, a long regular
expression or a C extension's loop. The exception waits until the interpreter runs Python again.
A resolver's caller still gets its timeout at the deadline (the thread stays busy, and counts
against the plugin's share, until the C call returns); a hook's caller is the blocked thread itself
and waits with it. An ``async`` resolver waiting on its own loop is woken so the exception lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import queue
import threading
import weakref
from collections.abc import Callable
from contextvars import Token
from threading import get_ident
from time import monotonic
from typing import Any, Final, final

import structlog

from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.plugins.running import CANCELS, STOPPING, PluginCall, enter, leave
from nentang.sdk.errors import NentangError

#: How often a plugin that swallowed the stop is sent another.
REFIRE_SECONDS: Final = 0.25
#: How long past the deadline a resolver's caller waits for the interrupted thread to report.
GRACE_SECONDS: Final = 0.2
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class PluginTimeout(NentangError):
    """A plugin's call ran past its deadline and was stopped (or abandoned by its caller)."""

    code = "plugin.timeout"

    def __init__(self, call: PluginCall, seconds: float, *, waiting: bool = False) -> None:
        what = "waited for a free plugin thread longer than" if waiting else "ran longer than"
        super().__init__(
            f"plugin {call.plugin!r} {what} its deadline of {seconds:g} s in {call.entry}; the call was stopped"
        )
        self.plugin = call.plugin
        self.tenant_id = call.tenant_id
        self.entry = call.entry
        #: It never ran: the plugin's share of threads stayed full until the deadline.
        self.waiting = waiting


#: A running call: what runs, and since when (``time.monotonic``).
_Entry = tuple[PluginCall, float]
#: One plugin's places in the plugin threads, on one event loop.
_Gate = asyncio.Semaphore
#: A resolver's job: the work, and the loop, future and gate to report to.
_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]", _Gate]


class Stopped(BaseException):
    """Raised into a plugin's thread at its deadline; the kernel's wrappers turn it into
    :class:`PluginTimeout` (callers never see it)."""


_local = threading.local()


def on_plugin_thread() -> bool:
    """Whether this thread is one of the watchdog's plugin threads (its work needs no other hop)."""
    return getattr(_local, "plugin_thread", False)


@final
class Watchdog:
    def __init__(self, limits: PluginCallLimits) -> None:
        self.limits = limits
        self._running: dict[int, _Entry] = {}
        #: Thread → the call a stop was sent for, and when (to send again, and to withdraw).
        self._fired: dict[int, tuple[_Entry, float]] = {}
        #: Plugin thread → how to wake its own event loop (an ``async`` resolver waiting there).
        self._wakes: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._tick = min(0.05, max(0.005, min((limits.deadline, *limits.deadlines.values())) / 10))
        self._monitor: threading.Thread | None = None
        self._closed = threading.Event()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Gate]] = (
            weakref.WeakKeyDictionary()
        )
        self._log = structlog.get_logger("nentang.plugins")

    # -- any call: register it, stop it past its deadline -----------------------------------------
    #
    # The hot path (every hook implementation) is a dict write and a restore: thread → (innermost
    # call, when it began). The monitor works out deadlines. Nested calls (a hook run by a
    # plugin's own work) are watched innermost first; the outer one is watched again when the
    # inner one ends, from its own start.

    def call(self, call: PluginCall, function: Callable[..., Any], *args: Any, since: float | None = None) -> Any:
        """Run ``function(*args)`` here as ``call``: marked as the plugin's code, with its deadline
        counted from ``since`` (``time.monotonic()``; default: now)."""
        token = enter(call)
        thread, running = get_ident(), self._running
        outer = running.get(thread)
        running[thread] = entry = (call, monotonic() if since is None else since)
        if self._monitor is None:
            self._start_monitor()
        try:
            try:
                return function(*args)
            finally:  # what _leave does, inline (the hot path)
                if outer is None:
                    running.pop(thread, None)
                else:
                    running[thread] = outer
                if self._fired and self._withdraw(thread, entry):
                    # stopped, but what surfaced first was the database's own interruption (the
                    # statement it ran was cancelled for the deadline): the caller gets the timeout
                    leave(token)
                    raise PluginTimeout(call, self.limits.deadline_of(call.plugin))
                leave(token)
        except Stopped:
            # again: the stop may have landed in the `finally` above, before it was done
            self._leave(thread, entry, outer)
            with contextlib.suppress(RuntimeError):  # already reset
                leave(token)
            raise PluginTimeout(call, self.limits.deadline_of(call.plugin)) from None

    def calls(self) -> dict[int, _Entry]:
        """Thread → its innermost running call: for :meth:`call` inlined (``Dispatcher.call_all``),
        which writes ``(call, monotonic())`` before each plugin and ends with :meth:`restore`."""
        if self._monitor is None:
            self._start_monitor()
        return self._running

    def restore(self, thread: int, outer: _Entry | None) -> None:
        """The inlined calls of this thread are over: watch ``outer`` again (or nothing)."""
        if outer is None:
            self._running.pop(thread, None)
        else:
            self._running[thread] = outer
        if self._fired:
            with self._lock:
                fired = self._fired.get(thread)
                if fired is not None and fired[0] is not outer:
                    del self._fired[thread]
                    STOPPING.discard(thread)
                    _set_async_exc(thread, ctypes.py_object())

    def timed_out(self, thread: int, token: Token[PluginCall | None] | None) -> PluginTimeout:
        """The error for a :class:`Stopped` caught around inlined calls: it names the call it was
        sent for (read before :meth:`restore` forgets it)."""
        if token is not None:
            with contextlib.suppress(RuntimeError):  # the stop may have landed before the reset
                leave(token)
        entry = self._fired.get(thread, (None, 0.0))[0] or self._running.get(thread)
        call = entry[0] if entry is not None else PluginCall("unknown", 0, "unknown")
        return PluginTimeout(call, self.limits.deadline_of(call.plugin))

    def _leave(self, thread: int, entry: _Entry, outer: _Entry | None) -> None:
        running = self._running
        if running.get(thread) is entry:
            if outer is None:
                del running[thread]
            else:
                running[thread] = outer
        self._withdraw(thread, entry)

    def _withdraw(self, thread: int, entry: _Entry) -> bool:
        """A stop may be pending for this thread's call that just ended: wait for the monitor, then
        take it back (it must not land in the kernel's code after the call). Whether one was sent."""
        if self._fired:
            with self._lock:
                fired = self._fired.get(thread)
                if fired is not None and fired[0] is entry:
                    del self._fired[thread]
                    STOPPING.discard(thread)
                    _set_async_exc(thread, ctypes.py_object())
                    return True
        return False

    def running(self) -> list[PluginCall]:
        """The innermost plugin call of each thread running one now (for tests and diagnostics)."""
        return [call for call, _began in list(self._running.values())]

    def _start_monitor(self) -> None:
        with self._lock:
            if self._monitor is None:
                self._monitor = threading.Thread(target=self._watch_loop, name="nentang-watchdog", daemon=True)
                self._monitor.start()

    def _watch_loop(self) -> None:
        deadline_of = self.limits.deadline_of
        while not self._closed.wait(self._tick):
            now = monotonic()
            for thread, entry in list(self._running.items()):
                call, began = entry
                if now >= began + deadline_of(call.plugin):
                    fired = self._fired.get(thread)
                    if fired is None or fired[0] is not entry or now - fired[1] >= REFIRE_SECONDS:
                        self._fire(thread, entry, first=fired is None or fired[0] is not entry, now=now)
            with self._lock:  # forget stops of calls long over (a thread that ended without withdrawing)
                over = [t for t, (e, at) in self._fired.items() if self._running.get(t) is not e and now - at > 1]
                for thread in over:
                    del self._fired[thread]
                    STOPPING.discard(thread)

    def _fire(self, thread: int, entry: _Entry, *, first: bool, now: float) -> None:
        with self._lock:
            # `fired` is written before the membership check: a call that ends meanwhile either left
            # already (nothing sent) or sees `fired` and withdraws the stop once this lock is free
            self._fired[thread] = (entry, now)
            if self._running.get(thread) is not entry:
                return
            _set_async_exc(thread, ctypes.py_object(Stopped))
            STOPPING.add(thread)  # a statement the thread is in, in SQLite's C code, stops too
            cancel = CANCELS.get(thread)  # and one it waits for on PostgreSQL's server
        if cancel is not None:
            with contextlib.suppress(Exception):  # the statement may have ended meanwhile
                cancel()
        wake = self._wakes.get(thread)
        if wake is not None:
            wake()
        if first:
            call = entry[0]
            self._log.warning("plugin.deadline_passed", plugin=call.plugin, tenant_id=call.tenant_id, entry=call.entry)

    # -- resolvers: in a plugin thread, awaited with the deadline ---------------------------------

    async def run_resolver(self, call: PluginCall, resolve: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``resolve(*args, **kwargs)`` in a plugin thread (awaited there if it is a coroutine).

        On every GraphQL request's path, so it costs one cross-thread call each way: the job goes
        through a queue, its outcome comes back with one ``call_soon_threadsafe`` that settles the
        caller's future and frees the plugin's place; the deadline is one timer on this loop.
        """
        seconds = self.limits.deadline_of(call.plugin)
        loop = asyncio.get_running_loop()
        gate = self._gate(loop, call.plugin)
        began = monotonic()  # the deadline counts from here, waiting for a place included
        left = seconds
        if gate.locked():  # the plugin holds its share of threads: wait for a place, within the deadline
            try:
                await asyncio.wait_for(gate.acquire(), seconds)
            except TimeoutError:
                raise PluginTimeout(call, seconds, waiting=True) from None
            left -= monotonic() - began
            if left < seconds / 100:  # a place came too late to run anything
                gate.release()
                raise PluginTimeout(call, seconds, waiting=True)
        else:
            await gate.acquire()  # free: returns at once
        outcome: asyncio.Future[Any] = loop.create_future()
        self._submit(lambda: self.call(call, _resolved, resolve, args, kwargs, since=began), loop, outcome, gate)
        timer = loop.call_later(max(left, 0) + GRACE_SECONDS, _expire, outcome)
        try:
            return await outcome
        except _Expired:
            raise PluginTimeout(call, seconds) from None
        finally:
            timer.cancel()

    def _gate(self, loop: asyncio.AbstractEventLoop, plugin: str) -> _Gate:
        gates = self._gates.get(loop)
        if gates is None:
            gates = self._gates.setdefault(loop, {})
        gate = gates.get(plugin)
        if gate is None:
            gate = gates.setdefault(plugin, asyncio.Semaphore(self.limits.concurrency))
        return gate

    def _submit(
        self, job: Callable[[], Any], loop: asyncio.AbstractEventLoop, outcome: asyncio.Future[Any], gate: _Gate
    ) -> None:
        with self._lock:
            if self._closed.is_set():
                gate.release()
                raise RuntimeError("the watchdog is closed")
            if self._idle <= 0 and len(self._threads) < self.limits.threads:
                thread = threading.Thread(target=self._work, name=f"nentang-plugin-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                self._idle += 1
                thread.start()
            self._idle -= 1
        self._jobs.put((job, loop, outcome, gate))

    def _work(self) -> None:
        _local.plugin_thread = True
        own = _local.loop = asyncio.new_event_loop()
        self._wakes[get_ident()] = lambda: own.call_soon_threadsafe(_nothing)
        while (item := self._jobs.get()) is not None:
            job, loop, outcome, gate = item
            error: BaseException | None = None
            result = None
            try:
                result = job()
            except BaseException as exc:  # a Stopped that landed past the wrapper included
                error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            with self._lock:
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it any more
                loop.call_soon_threadsafe(_settle, outcome, gate, result, error)
        self._wakes.pop(get_ident(), None)
        own.close()

    def close(self) -> None:
        """Stop the monitor and the plugin threads (a thread stuck in a plugin's C call is left)."""
        with self._lock:
            self._closed.set()
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)


class _Expired(Exception):
    """The caller's wait for a resolver ran out (its thread did not report in time)."""


def _expire(outcome: asyncio.Future[Any]) -> None:
    if not outcome.done():
        outcome.set_exception(_Expired())


def _settle(outcome: asyncio.Future[Any], gate: _Gate, result: Any, error: BaseException | None) -> None:
    """On the caller's loop: the plugin's thread is free again; hand over what it produced."""
    gate.release()
    if outcome.done():  # expired, or the request was cancelled
        return
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(result)


def _resolved(resolve: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """The resolver's value; a coroutine is run to its end on this plugin thread's own loop."""
    result = resolve(*args, **kwargs)
    if inspect.isawaitable(result):
        loop: asyncio.AbstractEventLoop = _local.loop
        result = loop.run_until_complete(_awaited(result))
    return result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _nothing() -> None:
    return None
