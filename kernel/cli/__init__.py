"""The ``nentang`` command line: ``serve``, ``demo``, ``db``, ``tenant``, ``audit``."""

from nentang.kernel.cli.main import app, main

__all__ = ["app", "main"]
