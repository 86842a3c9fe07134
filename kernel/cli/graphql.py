"""``nentang graphql``: the schema as integrators and reviewers see it."""

from __future__ import annotations

from typing import Annotated

import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.graphql.build import kernel_sdl
from nentang.kernel.graphql.engine import GraphQLEngine

app = typer.Typer(help="The GraphQL API: print the schema of the kernel and of a set of plugins.", no_args_is_help=True)


@app.command("schema")
@reports_errors
def schema(
    plugins: Annotated[
        str,
        typer.Option(
            "--plugins",
            "-p",
            help="Comma-separated names of installed plugins whose contributions to include (default: none).",
        ),
    ] = "",
) -> None:
    """Print the SDL of the kernel schema, or of the kernel with the given plugins.

    Without --plugins no database or plugin is touched: this is what
    docs/graphql/kernel.graphql holds. A plugin whose contribution is left out (an error, a name
    outside its namespace, an unbounded list, a collision) is reported on stderr with the reason,
    and the command exits 1.
    """
    names = sorted({name.strip() for name in plugins.split(",") if name.strip()})
    if not names:
        typer.echo(kernel_sdl(), nl=False)
        return
    with open_kernel() as kernel:
        kernel.plugins.scan()
        engine = GraphQLEngine(kernel)
        try:
            served = engine.served_for_plugins(names)
        finally:
            engine.close()
    typer.echo(served.sdl())
    for plugin, problems in sorted(served.left_out.items()):
        for problem in problems:
            typer.secho(f"error [graphql.plugin_left_out]: plugin {plugin!r}: {problem}", err=True, fg=typer.colors.RED)
    if served.left_out:
        raise typer.Exit(1)
