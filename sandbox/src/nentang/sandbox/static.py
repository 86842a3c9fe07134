"""The review's static stage: the SDK's plugin policy, and the permissions the code checks.

The policy itself lives in the SDK (:mod:`nentang.sdk.policy`) so that ``nentang sdk check`` on a
developer's machine and this review run the same code: an allow-list of imports, no private or
dunder attributes of objects the plugin did not define, no computed attribute names, no names
resolved from strings, frames or bound-method owners, no files, threads, processes or event-loop
networking, ORM use of SQLAlchemy only. Each of its findings becomes a ``static`` finding here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nentang.sandbox.findings import ReviewFinding
from nentang.sdk.policy import Allowance
from nentang.sdk.policy import check_package as policy_check
from nentang.sdk.testing._scan import permission_uses


def check_package(
    package_dir: Path, allowance: Allowance, *, requires: Iterable[str] = (), label: str | None = None
) -> list[ReviewFinding]:
    """Every finding of the plugin policy over the installed package at ``package_dir``."""
    return [
        ReviewFinding("static", f.code, f.location, f.message, f.severity)
        for f in policy_check(package_dir, allowance, requires=requires, label=label)
    ]


def permission_usage(package_dir: Path, manifest: dict[str, Any], *, label: str | None = None) -> list[ReviewFinding]:
    """Declared permissions against those the code checks with a constant name (``has_permission("x")``).

    The scan is the contract suite's (:func:`nentang.sdk.testing._scan.permission_uses`). A
    permission checked but not declared is an error (no administrator could ever grant it); one
    declared but never checked where the code shows it is a warning here (it may be checked by
    name elsewhere, e.g. by a role template only).
    """
    root = label or package_dir.name
    raw = manifest.get("permissions", [])
    declared = {str(p.get("name")) for p in raw if isinstance(p, dict)} if isinstance(raw, list) else set()
    uses = permission_uses(package_dir)
    findings: list[ReviewFinding] = []
    for hit in uses.literal:
        if hit.value not in declared and not hit.value.startswith("kernel."):
            finding = ReviewFinding(
                "contract",
                "contract.permission_undeclared",
                f"{root}/{hit.where(package_dir)}",
                f"checks permission {hit.value!r}, which the manifest does not declare: no one could be granted it",
            )
            if finding not in findings:
                findings.append(finding)
    findings += [
        ReviewFinding(
            "contract",
            "contract.permission_unused",
            "nentang-plugin.toml:permissions",
            f"declares {name!r} but no has_permission/require_permission call with that name was seen",
            "warning",
        )
        for name in sorted(declared - uses.names)
    ]
    return findings
