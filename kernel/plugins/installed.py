"""What is installed on this worker: every plugin registered or quarantined, and its approval.

One reading shared by ``nentang plugin list`` and the GraphQL ``plugins`` query, so an operator
and an administrator are told the same thing. The approval state hashes the installed files, so
it is computed on request (:func:`approval_state`), not with the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import final

from nentang.kernel.plugins.approval import verify_installed
from nentang.kernel.plugins.discovery import discover
from nentang.kernel.plugins.host import LoadedPlugin, PluginHost, Quarantined


class ApprovalState(Enum):
    """How the installed files stand against ``registry.toml``."""

    #: Approved, and the installed files match the approval.
    APPROVED = "approved"
    #: No approval of this name and version.
    UNAPPROVED = "unapproved"
    #: Approved, but the installed files differ from what was reviewed.
    MODIFIED = "modified"
    #: Approved, but the installed files cannot be found to compare.
    UNVERIFIED = "unverified"


@final
@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """One installed plugin: exactly one of ``loaded`` (registered) and ``quarantined`` is set."""

    name: str
    version: str
    loaded: LoadedPlugin | None
    quarantined: Quarantined | None


def installed_plugins(host: PluginHost) -> list[InstalledPlugin]:
    """Every plugin the host registered or quarantined, by name."""
    names = sorted(dict(host.plugins).keys() | dict(host.quarantined).keys())  # copies: a rescan may add
    return [plugin for name in names if (plugin := installed_plugin(host, name)) is not None]


def installed_plugin(host: PluginHost, name: str) -> InstalledPlugin | None:
    """One plugin of :func:`installed_plugins`, or ``None`` if it is not installed."""
    loaded, quarantined = host.plugins.get(name), host.quarantined.get(name)
    if loaded is not None:
        return InstalledPlugin(name, loaded.version, loaded, None)
    if quarantined is not None:
        return InstalledPlugin(name, quarantined.version, None, quarantined)
    return None


def approval_state(host: PluginHost, plugin: InstalledPlugin) -> ApprovalState:
    """Compare the installed files with the approval; a quarantined plugin's folder is found by
    discovery again (the host keeps none for it)."""
    approvals = host.approvals()
    if (plugin.name, plugin.version) not in approvals:
        return ApprovalState.UNAPPROVED
    package_dir = plugin.loaded.package_dir if plugin.loaded is not None else _package_dir(host, plugin.name)
    if package_dir is None:
        return ApprovalState.UNVERIFIED
    if verify_installed(plugin.name, plugin.version, package_dir, approvals):
        return ApprovalState.MODIFIED
    return ApprovalState.APPROVED


def _package_dir(host: PluginHost, name: str) -> Path | None:
    for candidate in discover(host.sdk_version, host.search_path):
        if candidate.name == name:
            return candidate.package_dir
    return None
