"""``nentang sdk``: the SDK's tools for plugin developers — ``nentang sdk check PATH``, the contract suite.

The suite itself lives in the SDK (:mod:`nentang.sdk.testing.contract`), next to the test kit that
runs the same checks from a plugin's tests; this command prints its report and exits with status 1
when any check failed. It never touches the kernel's configured database: it builds its own
throwaway one (SQLite, or a database of its own next to ``--postgres``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from nentang.kernel.observability.logging import configure_logging

app = typer.Typer(help="Tools for plugin developers: the contract suite every plugin must pass.", no_args_is_help=True)


@app.command("check")
def check(
    target: Annotated[
        str, typer.Argument(help="The plugin's project folder (with pyproject.toml), or an installed plugin's name.")
    ],
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            help="A PostgreSQL server URL; the checks run in a throwaway database created next to it (then dropped).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the contract suite on a plugin: every check, every finding with its code; exit 1 on failure."""
    from nentang.sdk.testing.contract import check_plugin

    configure_logging(json=False, level="ERROR")
    report = check_plugin(target, postgres_url=postgres)
    typer.echo(report.to_json() if json_output else report.text())
    raise typer.Exit(0 if report.ok else 1)
