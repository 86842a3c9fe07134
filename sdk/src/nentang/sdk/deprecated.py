"""Deprecations of the SDK: the warnings that announce a removal, and the one place that lists them.

Nothing public disappears from the SDK without warning first (``docs/sdk-compatibility.md``). A
name, a hook or a hook parameter that is going away keeps working for at least one release and
warns with a subclass of :class:`NentangDeprecationWarning` whose *name* says the release that
removes it, like Django's: ``NentangRemovedIn02Warning`` is removed in 0.2, ``NentangRemovedIn20Warning``
in 2.0. Its message names the replacement.

- A renamed facade name stays as an alias: add it to :data:`ALIASES` (old name → new name and
  warning); ``nentang.sdk`` then answers the old name with the new object and warns.
- A hook being removed or renamed: ``@hookspec(warn_on_impl=NentangRemovedIn02Warning("..."))``
  (or ``warn_on_impl_args`` for one parameter); pluggy reports it at the plugin's own line.
- Anything else: :func:`warn_deprecated`.

Plugins find out early by failing their tests on these warnings (pytest:
``filterwarnings = ["error::nentang.sdk.NentangDeprecationWarning"]``; the scaffold's projects turn
every warning into an error).

No name is deprecated in this release; the classes below are the ones the next removals will use.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import ClassVar, Final


class NentangDeprecationWarning(DeprecationWarning):
    """Base of every SDK deprecation: something a plugin uses will be removed in :attr:`removed_in`."""

    #: The SDK release that removes what the warning is about.
    removed_in: ClassVar[str] = ""


class NentangRemovedIn02Warning(NentangDeprecationWarning):
    """Removed in SDK 0.2 (while the SDK is 0.x, a minor release is a new API line)."""

    removed_in = "0.2"


class NentangRemovedIn10Warning(NentangDeprecationWarning):
    """Removed in SDK 1.0."""

    removed_in = "1.0"


#: Facade aliases kept after a rename: old name → (new name, warning class). Empty in this release.
ALIASES: Final[Mapping[str, tuple[str, type[NentangDeprecationWarning]]]] = {}


def warn_deprecated(
    what: str, *, replacement: str, category: type[NentangDeprecationWarning], stacklevel: int = 2
) -> None:
    """Warn that ``what`` goes away in ``category.removed_in``; use ``replacement`` instead.

    ``stacklevel`` counts from the caller of this function (2: the caller's caller, i.e. the plugin
    code that used the deprecated thing).
    """
    if not category.removed_in:
        raise TypeError(f"{category.__name__} does not say which release removes it (removed_in)")
    warnings.warn(
        f"{what} is deprecated and will be removed in nentang-sdk {category.removed_in}; use {replacement} instead",
        category,
        stacklevel=stacklevel + 1,
    )


__all__ = [
    "ALIASES",
    "NentangDeprecationWarning",
    "NentangRemovedIn02Warning",
    "NentangRemovedIn10Warning",
    "warn_deprecated",
]
