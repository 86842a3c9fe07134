"""Diagnostic: say which worker process answered, in an ``X-NenTang-Worker: <pid>`` response header.

Several worker processes share one port, so a response does not otherwise tell which one served
it. Knowing it lets an operator find the worker that lags behind a change, and lets
``bench/activation_propagation.py`` time, per worker, when a plugin activation change is served.
The value is the operating-system process id, nothing else: it names a process, not a secret.
"""

from __future__ import annotations

import os

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = "x-nentang-worker"


class WorkerIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                # read per response, not at start-up: the app may be built before the worker forks
                MutableHeaders(scope=message)[WORKER_HEADER] = str(os.getpid())
            await send(message)

        await self.app(scope, receive, send_with_worker)
