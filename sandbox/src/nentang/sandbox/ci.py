"""CI: every first-party plugin is reviewed, passes, and is approved in ``registry.toml`` as built now.

For each folder under ``plugins/`` with a ``pyproject.toml``: run the full review; then the
registry must hold an approval of that name and version whose file digests equal the files the
review installed. A plugin changed without a new review (or a new version) fails CI with the
command that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from nentang.kernel.plugins.approval import load_registry
from nentang.sandbox.pipeline import review
from nentang.sandbox.report import ReviewReport


def first_party(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "plugins").glob("**/pyproject.toml"))


def check_first_party(root: Path, report_dir: Path, *, review_one: Callable[[Path], ReviewReport] = review) -> int:
    """Review every first-party plugin; 0 when all pass and are approved as built, else 1."""
    folders = first_party(root)
    if not folders:
        typer.echo("review ci: no first-party plugins under plugins/; nothing to review")
        return 0
    approvals = load_registry(root / "registry.toml")
    failures = 0
    for folder in folders:
        report = review_one(folder)
        report.write(report_dir)
        where = folder.relative_to(root)
        if report.verdict != "pass":
            failures += 1
            typer.secho(f"FAIL {where}: review failed", fg=typer.colors.RED)
            for reason in report.reasons:
                typer.echo(f"  - {reason}")
            continue
        approval = approvals.get((report.plugin, report.version))
        fix = f"nentang review {where} --approve --reviewer NAME"
        if approval is None:
            failures += 1
            typer.secho(f"FAIL {where}: {report.plugin} {report.version} is not approved in registry.toml ({fix})")
        elif dict(approval.files) != report.files:
            changed = sorted(
                k for k in set(approval.files) | set(report.files) if approval.files.get(k) != report.files.get(k)
            )
            failures += 1
            typer.secho(
                f"FAIL {where}: files changed since {report.plugin} {report.version} was approved: "
                f"{', '.join(changed)} (bump the version and run: {fix})"
            )
        else:
            typer.echo(
                f"ok   {where}: {report.plugin} {report.version} passes and is approved ({report.total_seconds} s)"
            )
    typer.echo(f"review ci: {len(folders) - failures} passed, {failures} failed")
    return 1 if failures else 0
