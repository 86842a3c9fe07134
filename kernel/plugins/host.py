"""The plugin host: one pluggy manager per worker, changed only under a lock, all-or-nothing.

A candidate is imported only after its manifest, compatibility and (in production) approval
checks pass. Its hook implementations are validated on a scratch manager first; only a plugin
that passes everything is registered on the live one. Anything that fails — an import that
raises, an unknown hook, an unmarked ``nentang_*`` function — quarantines that plugin for the
platform, with the reason, and the worker keeps starting.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Final, Literal, final

import pluggy
import structlog

from nentang.kernel.plugins.approval import Approval, load_registry, verify_installed
from nentang.kernel.plugins.discovery import Candidate, discover
from nentang.kernel.plugins.ownership import plugin_tables
from nentang.sdk import hookspecs  # the module nentang/sdk/hookspecs.py, the hook contract
from nentang.sdk._markers import PROJECT
from nentang.sdk.errors import ValidationFailed
from nentang.sdk.manifest import Finding, Manifest

HOOK_PREFIX: Final = "nentang_"
#: Hook options only the kernel may use (ordering and wrapping are the kernel's business).
_KERNEL_ONLY_OPTIONS: Final = ("wrapper", "hookwrapper", "tryfirst", "trylast")

Mode = Literal["production", "development"]


@final
@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    name: str
    version: str
    manifest: Manifest
    module: ModuleType
    package_dir: Path
    #: Approval findings tolerated in development mode (empty when approved and unchanged).
    approval_warnings: tuple[Finding, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class Quarantined:
    name: str
    version: str
    reason: str
    findings: tuple[Finding, ...] = ()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@final
@dataclass(frozen=True, slots=True)
class ScanReport:
    registered: tuple[str, ...]
    quarantined: tuple[str, ...]
    unchanged: tuple[str, ...]


@final
class PluginHost:
    def __init__(
        self,
        *,
        mode: Mode,
        registry_path: Path,
        sdk_version: str,
        search_path: list[str] | None = None,
    ) -> None:
        self.mode = mode
        self.registry_path = registry_path
        self.sdk_version = sdk_version
        self.search_path = search_path
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.quarantined: dict[str, Quarantined] = {}
        #: The tables each registered plugin may touch (``ownership.py``), replaced as a whole on change.
        self.tables: dict[str, frozenset[str]] = {}
        #: Increases whenever the set of registered plugins changes; dispatch caches key on it.
        self.generation = 0
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._log = structlog.get_logger("nentang.plugins")

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def approvals(self) -> dict[tuple[str, str], Approval]:
        return load_registry(self.registry_path)

    def approval_problem(self) -> str | None:
        """Why this worker does not run what the registry approves, for readiness in production
        mode: no registry where the configuration says, one that does not parse, or an approved
        release that is installed but could not be registered (quarantined). ``None`` when fine."""
        if not self.registry_path.is_file():
            return f"no registry of approved plugins at {self.registry_path} (NENTANG_REGISTRY)"
        try:
            approvals = self.approvals()
        except ValidationFailed as exc:
            return f"the registry of approved plugins cannot be read: {exc.message}"
        failed = sorted(name for name, held in self.quarantined.items() if (name, held.version) in approvals)
        if failed:
            return f"approved plugin(s) installed but not registered: {', '.join(failed)} (see the logs)"
        return None

    def scan(self) -> ScanReport:
        """Register every installed, usable plugin not registered yet (start-up and rescan).

        An upgraded distribution (same name, new version) is not swapped in process — module
        reloading is unsafe — it is reported, and a rolling restart of the workers applies it.
        """
        with self._lock:
            candidates = discover(self.sdk_version, self.search_path)
            approvals = self.approvals()
            registered, quarantined, unchanged = [], [], []
            for candidate in candidates:
                loaded = self.plugins.get(candidate.name)
                if loaded is not None:
                    unchanged.append(candidate.name)
                    if loaded.version != candidate.version:
                        self._log.warning(
                            "plugin.upgrade_needs_restart",
                            plugin=candidate.name,
                            running=loaded.version,
                            installed=candidate.version,
                        )
                    continue
                if candidate.name in self.quarantined and self.quarantined[candidate.name].version == candidate.version:
                    unchanged.append(candidate.name)
                    continue
                outcome = self._admit(candidate, approvals)
                (registered if outcome else quarantined).append(candidate.name)
            if registered:
                self.tables = plugin_tables(self.plugins, self.quarantined)
                self.generation += 1
                for listener in self._listeners:
                    listener()
            return ScanReport(tuple(registered), tuple(quarantined), tuple(unchanged))

    def _admit(self, candidate: Candidate, approvals: dict[tuple[str, str], Approval]) -> bool:
        if not candidate.usable or candidate.manifest is None or candidate.package_dir is None:
            self._quarantine(candidate, "its manifest or requirements are not acceptable", candidate.findings)
            return False
        approval_findings = tuple(verify_installed(candidate.name, candidate.version, candidate.package_dir, approvals))
        if approval_findings and self.mode == "production":
            self._quarantine(candidate, "not approved as installed (production mode)", approval_findings)
            return False
        for finding in approval_findings:
            self._log.warning("plugin.unapproved_in_development", plugin=candidate.name, finding=str(finding))
        try:
            module = importlib.import_module(candidate.module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # even sys.exit() in a plugin's import must not stop the worker
            sys.modules.pop(candidate.module, None)
            self._quarantine(candidate, f"importing {candidate.module} raised {type(exc).__name__}: {exc}")
            return False
        problems = validate_implementations(module, candidate.name)
        if problems:
            self._quarantine(candidate, "its hook implementations do not match the SDK's hooks", tuple(problems))
            return False
        try:
            self.pm.register(module, name=candidate.name)
        except ValueError as exc:  # the same module already registered under another name
            self._quarantine(candidate, f"cannot be registered: {exc}")
            return False
        self.plugins[candidate.name] = LoadedPlugin(
            name=candidate.name,
            version=candidate.version,
            manifest=candidate.manifest,
            module=module,
            package_dir=candidate.package_dir,
            approval_warnings=approval_findings,
        )
        self.quarantined.pop(candidate.name, None)
        self._log.info("plugin.registered", plugin=candidate.name, version=candidate.version)
        return True

    def _quarantine(self, candidate: Candidate, reason: str, findings: tuple[Finding, ...] = ()) -> None:
        self.quarantined[candidate.name] = Quarantined(candidate.name, candidate.version, reason, findings)
        self._log.error(
            "plugin.quarantined",
            plugin=candidate.name,
            version=candidate.version,
            reason=reason,
            findings=[str(f) for f in findings],
        )


def validate_implementations(module: ModuleType, name: str) -> list[Finding]:
    """Check a plugin module's hooks on a scratch manager, collecting every problem."""
    findings: list[Finding] = []
    for attr in sorted(dir(module)):
        if not attr.startswith(HOOK_PREFIX):
            continue
        function = getattr(module, attr)
        opts = getattr(function, f"{PROJECT}_impl", None)
        if not callable(function):
            continue
        if opts is None:
            findings.append(
                Finding("hook.unmarked", f"{name}.{attr}", "hook implementations must carry @hookimpl from nentang.sdk")
            )
            continue
        for option in _KERNEL_ONLY_OPTIONS:
            if opts.get(option):
                findings.append(
                    Finding("hook.kernel_only_option", f"{name}.{attr}", f"{option}=True is reserved to the kernel")
                )
    scratch = pluggy.PluginManager(PROJECT)
    scratch.add_hookspecs(hookspecs)
    try:
        scratch.register(module, name=name)
        scratch.check_pending()
    except pluggy.PluginValidationError as exc:
        findings.append(Finding("hook.invalid", name, str(exc)))
    return findings
