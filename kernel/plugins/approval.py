"""Approval: a plugin may be enabled in production only as reviewed, byte for byte.

``registry.toml`` holds one ``[[approved]]`` table per reviewed release, written by the sandbox
review: name, version, the wheel's SHA-256, and the SHA-256 of every installed file of the
plugin's package. Before a plugin is imported — and again when it is enabled — the kernel hashes
the files as installed now and compares; a changed, added or missing file is named.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

from nentang.sdk.errors import ValidationFailed
from nentang.sdk.manifest import Finding

_SKIP_DIRS: Final = frozenset({"__pycache__"})
_SKIP_SUFFIXES: Final = (".pyc", ".pyo")


@final
@dataclass(frozen=True, slots=True)
class Approval:
    name: str
    version: str
    wheel_sha256: str
    #: Relative path inside the package folder → SHA-256 of its bytes.
    files: Mapping[str, str]
    reviewer: str = ""
    approved_on: str = ""
    capabilities: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def installed_files(package_dir: Path) -> dict[str, str]:
    """Every file of an installed package (bytecode caches aside) with its SHA-256."""
    digests: dict[str, str] = {}
    for path in sorted(package_dir.rglob("*")):
        if not path.is_file() or path.suffix in _SKIP_SUFFIXES or _SKIP_DIRS & set(path.parts):
            continue
        digests[path.relative_to(package_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def files_digest(files: Mapping[str, str]) -> str:
    """One digest over all files (path and content), as printed in review reports."""
    body = "".join(f"{path}\0{digest}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(body.encode()).hexdigest()


def load_registry(path: Path) -> dict[tuple[str, str], Approval]:
    """Approvals by (name, version). A missing file means: nothing is approved."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"{path}: not valid TOML: {exc}", code="registry.syntax") from exc
    approvals: dict[tuple[str, str], Approval] = {}
    for i, item in enumerate(data.get("approved", [])):
        try:
            approval = Approval(
                name=str(item["name"]),
                version=str(item["version"]),
                wheel_sha256=str(item.get("wheel_sha256", "")),
                files={str(k): str(v) for k, v in dict(item["files"]).items()},
                reviewer=str(item.get("reviewer", "")),
                approved_on=str(item.get("approved_on", "")),
                capabilities=tuple(item.get("capabilities", ())),
                permissions=tuple(item.get("permissions", ())),
                checks=tuple(item.get("checks", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"{path}: approval #{i + 1} is incomplete ({exc})", code="registry.entry") from exc
        approvals[(approval.name, approval.version)] = approval
    return approvals


def verify_installed(
    name: str, version: str, package_dir: Path, approvals: Mapping[tuple[str, str], Approval]
) -> list[Finding]:
    """Why the installed plugin does not match its approval (empty: it matches)."""
    location = f"{name} {version}"
    approval = approvals.get((name, version))
    if approval is None:
        other = sorted(v for n, v in approvals if n == name)
        hint = f"approved versions: {', '.join(other)}" if other else "no version of it is approved"
        return [Finding("approval.missing", location, f"not approved in registry.toml ({hint})")]
    installed = installed_files(package_dir)
    findings = []
    for rel, digest in sorted(installed.items()):
        expected = approval.files.get(rel)
        if expected is None:
            findings.append(Finding("approval.file_added", f"{location}:{rel}", "file not present when reviewed"))
        elif expected != digest:
            findings.append(
                Finding("approval.file_modified", f"{location}:{rel}", "file changed since it was reviewed")
            )
    for rel in sorted(set(approval.files) - set(installed)):
        findings.append(Finding("approval.file_missing", f"{location}:{rel}", "file reviewed but no longer installed"))
    return findings
