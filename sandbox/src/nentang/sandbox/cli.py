"""Command line of the review: ``nentang review TARGET`` and ``python -m nentang.sandbox {review,ci}``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nentang.sandbox.approve import append_approval
from nentang.sandbox.pipeline import ReviewOptions, review
from nentang.sdk.errors import NentangError

app = typer.Typer(
    help="NenTang sandbox review: check a plugin before it can be approved into registry.toml.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def run_review(
    target: Path, *, approve: bool, reviewer: str | None, report_dir: Path, registry: Path, keep: bool = False
) -> int:
    """Review ``target``, write both reports, approve on request; the exit status (0 pass, 1 fail)."""
    if approve and not reviewer:
        typer.secho("error: --approve needs --reviewer NAME", err=True, fg=typer.colors.RED)
        return 2
    report = review(target, ReviewOptions(keep=keep))
    json_path, md_path = report.write(report_dir)
    colour = typer.colors.GREEN if report.verdict == "pass" else typer.colors.RED
    typer.secho(f"review of {report.plugin or target}: {report.verdict.upper()} in {report.total_seconds} s", fg=colour)
    for reason in report.reasons:
        typer.echo(f"  - {reason}")
    typer.echo(f"reports: {md_path} and {json_path}")
    if report.verdict != "pass":
        if approve:
            typer.secho("not approved: the review did not pass", err=True, fg=typer.colors.RED)
        return 1
    if approve:
        try:
            added = append_approval(registry, report, reviewer=reviewer or "")
        except NentangError as exc:
            typer.secho(f"error [{exc.code}]: {exc.message}", err=True, fg=typer.colors.RED)
            return 1
        message = "approved into" if added else "already approved, unchanged, in"
        typer.echo(f"{report.plugin} {report.version} {message} {registry}")
    return 0


@app.command("review")
def review_command(
    target: Annotated[Path, typer.Argument(help="A plugin source folder (with pyproject.toml) or a wheel.")],
    approve: Annotated[bool, typer.Option(help="After a pass, append the approval to the registry.")] = False,
    reviewer: Annotated[str | None, typer.Option(help="Who approves (required with --approve).")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where to write the Markdown and JSON reports.")] = Path("."),
    registry: Annotated[Path, typer.Option(envvar="NENTANG_REGISTRY", help="The registry of approvals.")] = Path(
        "registry.toml"
    ),
    keep: Annotated[bool, typer.Option(help="Keep the work folder (review environment, scratch).")] = False,
) -> None:
    """Review one plugin in the sandbox; exit 1 unless it passes."""
    raise typer.Exit(
        run_review(target, approve=approve, reviewer=reviewer, report_dir=report_dir, registry=registry, keep=keep)
    )


@app.command("ci")
def ci_command(
    root: Annotated[Path, typer.Option(help="The repository root.")] = Path("."),
    report_dir: Annotated[Path, typer.Option(help="Where to write the reports.")] = Path("var/review"),
) -> None:
    """Review every first-party plugin in plugins/ and check registry.toml approves each as built now."""
    from nentang.sandbox.ci import check_first_party

    raise typer.Exit(check_first_party(root.resolve(), report_dir))


def main() -> None:
    app()
