"""What every command needs: settings from the environment, a kernel, and clear errors."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer

from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import NentangError

P = ParamSpec("P")
R = TypeVar("R")


def load_settings() -> Settings:
    """The only place that reads ``NENTANG_*`` environment variables."""
    settings = Settings.from_environ(os.environ)
    configure_logging(json=settings.log_json, level=settings.log_level)
    return settings


@contextmanager
def open_kernel(settings: Settings | None = None) -> Iterator[Kernel]:
    kernel = create_kernel(settings or load_settings())
    try:
        yield kernel
    finally:
        kernel.close()


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a NentangError into one line on stderr and exit status 1 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NentangError as exc:
            typer.secho(f"error [{exc.code}]: {exc.message}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper
