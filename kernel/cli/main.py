"""Assemble the ``nentang`` command from one module per command group."""

from __future__ import annotations

import typer

from nentang.kernel.cli import audit, db, graphql, plugin, review, scaffold, sdk, serve, tenant, token, user

app = typer.Typer(
    name="nentang",
    help="NenTang platform kernel: run it, migrate it, administer tenants, users and tokens, verify the audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.add_typer(db.app, name="db")
app.add_typer(tenant.app, name="tenant")
app.add_typer(user.app, name="user")
app.add_typer(token.app, name="token")
app.add_typer(plugin.app, name="plugin")
plugin.app.command("new")(scaffold.new)
app.add_typer(audit.app, name="audit")
app.add_typer(graphql.app, name="graphql")
app.command("review")(review.review)
app.add_typer(sdk.app, name="sdk")


def main() -> None:
    app()
