"""Driving an ASGI app in-process for ``graphql_bench.py``: requests with every answer checked, the
app's lifespan, and the probe that finds where our stack runs its reads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


@dataclass(frozen=True, slots=True)
class Figures:
    rps: float
    cpu_ms: float


class WrongAnswer(SystemExit):
    """A timed response that is not the reference: the run fails with what came back."""


class Driver:
    """Sends POSTs to an ASGI app and checks each answer, with no sockets in between."""

    def __init__(self, stack: str, app: Callable[..., Any], path: str, headers: dict[str, str]) -> None:
        self.stack = stack
        self.app = app
        self.path = path
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.checked = 0

    async def post(self, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # like a connection that stays open
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    async def run(self, body: bytes, expected: bytes, requests: int, concurrency: int, query: str) -> Figures:
        """``requests`` POSTs of ``body``, each answer compared byte for byte with ``expected`` (a
        body already checked: HTTP 200, no ``errors``, the reference's data)."""
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                status, answer = await self.post(body)
                if status != 200 or answer != expected:
                    raise WrongAnswer(
                        f"graphql: {self.stack} answered a timed {query} request wrongly "
                        f"(HTTP {status}): {answer[:300]!r}"
                    )
                self.checked += 1

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return Figures(rps=requests / wall, cpu_ms=cpu * 1000 / requests)


@contextmanager
def lifespan(app: Any, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Run the app's lifespan startup and shutdown (our app starts the kernel there)."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = loop.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, messages.get, replies.put))
    messages.put_nowait({"type": "lifespan.startup"})
    reply = loop.run_until_complete(replies.get())
    if reply["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"lifespan startup failed: {reply}")
    try:
        yield
    finally:
        messages.put_nowait({"type": "lifespan.shutdown"})
        loop.run_until_complete(replies.get())
        loop.run_until_complete(task)


class ReadProbe:
    """Records, for the SELECTs on one table, whether each ran on the event loop's thread.

    It listens on every engine of the process (a connection made before a listener was added to
    its own engine would not tell it), so nothing else may read while it watches."""

    def __init__(self, loop_thread: int) -> None:
        self.loop_thread = loop_thread
        self.table = ""
        self.on_loop: list[bool] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and self.table in statement:
            self.on_loop.append(threading.get_ident() == self.loop_thread)

    @contextmanager
    def watching(self, table: str) -> Iterator[None]:
        self.table, self.on_loop = table, []
        event.listen(Engine, "before_cursor_execute", self._seen)
        try:
            yield
        finally:
            event.remove(Engine, "before_cursor_execute", self._seen)

    def where(self) -> str:
        if not self.on_loop:
            raise SystemExit(f"graphql: ours read nothing from {self.table!r}: the probe cannot tell where it reads")
        on = sum(self.on_loop)
        off = len(self.on_loop) - on
        mixed = " (mixed: the baselines hop for every statement, which favours ours)" if on and off else ""
        return f"{len(self.on_loop)} SELECT(s) on {self.table}, {on} on the event loop, {off} in a thread{mixed}"

    @property
    def hops(self) -> bool:
        return not all(self.on_loop)
