"""The pluggy markers of the ``nentang`` project."""

from __future__ import annotations

from typing import Final

import pluggy

PROJECT: Final = "nentang"

#: Marks a function in ``hookspecs`` as a hook specification (kernel use).
hookspec: Final = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin's function as the implementation of a hook. Required: a function whose name
#: starts with ``nentang_`` but carries no marker is refused when the plugin is registered.
hookimpl: Final = pluggy.HookimplMarker(PROJECT)
