"""``nentang db``: schema migrations."""

from __future__ import annotations

import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.data import migrate

app = typer.Typer(help="Database schema: migrations of the kernel and of installed plugins.", no_args_is_help=True)


@app.command("upgrade")
@reports_errors
def upgrade() -> None:
    """Bring the database to the newest schema (kernel and every plugin branch)."""
    with open_kernel() as kernel:
        heads = kernel.upgrade_database()
        typer.echo(f"database at head: {', '.join(sorted(heads))}")


@app.command("current")
@reports_errors
def current() -> None:
    """Show the applied revisions and whether any are pending."""
    with open_kernel() as kernel:
        applied = migrate.applied_heads(kernel.db.owner_engine)
        typer.echo(f"applied: {', '.join(sorted(applied)) or '(none)'}")
        pending = kernel.pending_migrations()
        typer.echo(f"pending: {', '.join(sorted(pending))}" if pending else "up to date")
