"""``nentang review``: the sandbox review of a plugin, before it can be approved into registry.toml.

The pipeline lives in the ``nentang-sandbox`` distribution (``sandbox/``); it is imported only when
the command runs, so a kernel installed without it still starts and says what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def review(
    target: Annotated[Path, typer.Argument(help="A plugin source folder (with pyproject.toml) or a wheel.")],
    approve: Annotated[bool, typer.Option(help="After a pass, append the approval to the registry.")] = False,
    reviewer: Annotated[str | None, typer.Option(help="Who approves (required with --approve).")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where to write the Markdown and JSON reports.")] = Path("."),
    registry: Annotated[Path, typer.Option(envvar="NENTANG_REGISTRY", help="The registry of approvals.")] = Path(
        "registry.toml"
    ),
    keep: Annotated[bool, typer.Option(help="Keep the work folder (review environment, scratch).")] = False,
) -> None:
    """Review a plugin in the sandbox (build, install, manifest, static checks, contract suite, its
    tests, behaviour trace); exit 1 unless it passes. With --approve, record the approval."""
    try:
        from nentang.sandbox.cli import run_review
    except ImportError:
        typer.secho(
            "error: the review pipeline (nentang-sandbox) is not installed: pip install -e sandbox/",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2) from None
    raise typer.Exit(
        run_review(target, approve=approve, reviewer=reviewer, report_dir=report_dir, registry=registry, keep=keep)
    )
