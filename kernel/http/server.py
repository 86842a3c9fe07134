"""The server entry point: the one place an app is built from the process environment."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from nentang.kernel.http.app import create_app
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.plugins.call_limits import apply_worker_memory_ceiling
from nentang.kernel.runtime import create_kernel
from nentang.kernel.settings import Settings


def app_from_environ() -> Starlette:
    """Uvicorn factory (``--factory``): one kernel per worker process."""
    settings = Settings.from_environ(os.environ)
    configure_logging(json=settings.log_json, level=settings.log_level)
    apply_worker_memory_ceiling(settings.plugin_calls.worker_memory_mb)  # in each worker process
    return create_app(create_kernel(settings), close_kernel_on_shutdown=True)
