"""Recording an approval in ``registry.toml`` — only for a review that passed.

One ``[[approved]]`` table is appended per release, in the format
:func:`nentang.kernel.plugins.approval.load_registry` reads: name, version, the wheel's SHA-256,
the SHA-256 of every installed file of the plugin's package (an ``[approved.files]`` sub-table,
keys quoted because they contain dots), the declared capabilities and permissions, the checks
that passed, the reviewer and the date. The existing text is kept byte for byte (comments
included), so the file's history reads as one appended block per approval.

A release is immutable: approving a version already approved with the same files does nothing;
with different files it is refused (publish a new version instead).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import tomli_w

from nentang.kernel.plugins.approval import load_registry
from nentang.sandbox.report import ReviewReport
from nentang.sdk.errors import Conflict, ValidationFailed


def approval_record(report: ReviewReport, reviewer: str, approved_on: date) -> dict[str, Any]:
    return {
        "name": report.plugin,
        "version": report.version,
        "wheel_sha256": report.wheel_sha256,
        "files_digest": report.files_digest,
        "reviewer": reviewer,
        "approved_on": approved_on.isoformat(),
        "capabilities": list(report.capabilities),
        "permissions": [str(p.get("name")) for p in report.permissions],
        "checks": report.checks_passed,
        "files": dict(sorted(report.files.items())),
    }


def append_approval(registry: Path, report: ReviewReport, *, reviewer: str, approved_on: date | None = None) -> bool:
    """Append the approval of ``report``'s release; ``False`` if that exact release is already approved.

    :raises ValidationFailed: the review did not pass, or no reviewer is named.
    :raises Conflict: the version is already approved with other files.
    """
    if report.verdict != "pass":
        raise ValidationFailed(
            f"{report.plugin or report.target}: only a passed review can be approved ({len(report.reasons)} reasons)",
            code="review.not_passed",
        )
    if not reviewer.strip():
        raise ValidationFailed("name the reviewer (--reviewer NAME)", code="review.no_reviewer")
    existing = load_registry(registry).get((report.plugin, report.version))
    if existing is not None:
        if dict(existing.files) == report.files:
            return False
        raise Conflict(
            f"{report.plugin} {report.version} is already approved with other files; "
            "a released version never changes: publish a new version",
            code="review.version_taken",
        )
    record = approval_record(report, reviewer.strip(), approved_on or date.today())
    text = registry.read_text(encoding="utf-8") if registry.exists() else "schema = 1\n"
    block = tomli_w.dumps({"approved": [record]})
    registry.write_text(text.rstrip("\n") + "\n\n" + block, encoding="utf-8")
    load_registry(registry)  # the file must still read
    return True
