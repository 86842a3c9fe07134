"""``require_sdk``: refuse to run on an SDK outside a supported range."""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from nentang.sdk.errors import NentangError, ValidationFailed


def require_sdk(spec: str, *, version: str | None = None) -> None:
    """Raise unless the running SDK's version is in ``spec`` (a range like ``">=0.1,<0.2"``).

    A plugin rarely needs it: the kernel compares the manifest's ``api`` range with its SDK
    *before* it imports the plugin, and never imports a plugin outside the range. It is for code
    that runs without that check — a library shared by several plugins, a script, a test helper.

    :param spec: the supported SDK versions (PEP 440 specifiers).
    :param version: the version to test (default: the running SDK's).
    :raises ValidationFailed: ``sdk.bad_range`` when ``spec`` is not a version range.
    :raises NentangError: ``sdk.incompatible`` when the version is outside it.
    """
    from nentang.sdk import __version__

    try:
        wanted = SpecifierSet(spec)
    except InvalidSpecifier:
        raise ValidationFailed(f"{spec!r} is not a version range like '>=0.1,<0.2'", code="sdk.bad_range") from None
    running = version or __version__
    if Version(running) not in wanted:
        raise NentangError(
            f"this code needs nentang-sdk {spec}, but nentang-sdk {running} is installed; "
            "install a matching SDK, or a release of this code built for this SDK",
            code="sdk.incompatible",
        )


__all__ = ["require_sdk"]
