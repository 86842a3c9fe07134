"""``bandit`` over the installed package: the common Python security smells, with file:line.

Issues of high or medium severity (with at least medium confidence) fail the review; the rest
are warnings for the reviewer. Tests shipped inside the package are skipped (``assert`` there
is how tests work).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Final

from nentang.sandbox.findings import ReviewFinding

_RANK: Final = {"UNDEFINED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


def run_bandit(package_dir: Path, *, label: str | None = None, timeout: float = 120) -> list[ReviewFinding]:
    root = label or package_dir.name
    command = [sys.executable, "-m", "bandit", "-r", str(package_dir), "-f", "json", "-q", "-x", "*/tests/*"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [ReviewFinding("bandit", "bandit.not_run", root, f"bandit could not run: {exc}")]
    try:
        data = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        return [ReviewFinding("bandit", "bandit.not_run", root, f"bandit gave no report: {done.stderr.strip()[:300]}")]
    findings: list[ReviewFinding] = []
    for error in data.get("errors", []):
        where = _relative(Path(error.get("filename", "")), package_dir, root)
        findings.append(ReviewFinding("bandit", "bandit.error", where, str(error.get("reason", "bandit failed"))))
    for issue in data.get("results", []):
        severity = _RANK.get(str(issue.get("issue_severity")), 0)
        confidence = _RANK.get(str(issue.get("issue_confidence")), 0)
        blocking = severity >= 2 and confidence >= 2
        where = f"{_relative(Path(issue.get('filename', '')), package_dir, root)}:{issue.get('line_number', 0)}"
        findings.append(
            ReviewFinding(
                "bandit",
                f"bandit.{issue.get('test_id', 'B000')}",
                where,
                f"{issue.get('issue_text', '')} (severity {issue.get('issue_severity')}, "
                f"confidence {issue.get('issue_confidence')})",
                "error" if blocking else "warning",
            )
        )
    return findings


def _relative(path: Path, package_dir: Path, root: str) -> str:
    try:
        return f"{root}/{path.resolve().relative_to(package_dir.resolve()).as_posix()}"
    except ValueError:
        return str(path)
