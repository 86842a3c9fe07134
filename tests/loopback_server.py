"""A real HTTP server for a test: uvicorn in a thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from nentang.kernel.cli.serve import request_head_limit
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(kernel: Kernel) -> Iterator[str]:
    """``create_app(kernel)`` served as ``nentang serve`` would (its request-head limit); yields
    the base URL and stops the server after the block."""
    port = free_port()
    config = uvicorn.Config(
        create_app(kernel),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        h11_max_incomplete_event_size=request_head_limit(kernel.settings.graphql.max_body_bytes),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start on loopback")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
