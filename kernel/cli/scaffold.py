"""``nentang plugin new NAME``: write a complete plugin project to start from.

The templates and the renderer belong to the SDK (:mod:`nentang.sdk.scaffold`), so that what is
generated always matches the SDK the plugin will declare; this module is only the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nentang.kernel.cli.context import reports_errors


@reports_errors
def new(
    name: Annotated[str, typer.Argument(help="The plugin's name: lower-case letters, digits and '_' (e.g. 'forms').")],
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Where to create the project folder nentang-<name>.")
    ] = Path("."),
) -> None:
    """Create a plugin project that passes its tests and the contract suite as written.

    It holds a manifest, a tenant-owned table with its migration, a GraphQL query and mutation guarded
    by declared permissions, an event handler, tests using the SDK's test kit, a README with the next
    steps and review.toml.
    """
    from nentang.sdk.scaffold import render_plugin

    target = render_plugin(name, directory)
    typer.echo(f"created plugin {name!r} in {target}")
    typer.echo("next steps (see its README.md):")
    typer.echo(f"  cd {target}")
    typer.echo('  pip install -e ".[test]"')
    typer.echo("  pytest")
    typer.echo("  nentang sdk check .")
