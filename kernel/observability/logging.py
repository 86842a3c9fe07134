"""Structured logging with structlog: JSON lines in production, readable lines for people.

Configured once by the process entry point (the CLI); library code only calls
``structlog.get_logger()`` and binds context (request id, tenant) through contextvars. Each
record reaches stderr as one write of a whole line (``log_writer.py`` says what that guarantees
when several workers share stderr).
"""

from __future__ import annotations

import logging
import sys

import structlog

from nentang.kernel.observability.log_writer import LineLoggerFactory


def configure_logging(*, json: bool, level: str = "INFO") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=LineLoggerFactory(sys.stderr, json=json),
        cache_logger_on_first_use=False,
    )
