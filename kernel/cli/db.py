"""``nentang db``: schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from alembic.util import CommandError

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.data import migrate
from nentang.sdk.errors import NentangError

app = typer.Typer(help="Database schema: migrations of the kernel and of installed plugins.", no_args_is_help=True)


@contextmanager
def _migration_errors() -> Iterator[None]:
    """Alembic's own errors become one clear line (``reports_errors``) instead of a traceback."""
    try:
        yield
    except CommandError as exc:
        raise NentangError(
            f"migrations: {exc}. A revision recorded in the database that no installed package provides "
            "means a plugin whose migrations were applied is no longer installed: reinstall it, then retry",
            code="db.migration_failed",
        ) from None


@app.command("upgrade")
@reports_errors
def upgrade() -> None:
    """Bring the database to the newest schema (kernel and every plugin branch)."""
    with open_kernel() as kernel, _migration_errors():
        heads = kernel.upgrade_database()
        typer.echo(f"database at head: {', '.join(sorted(heads))}")


@app.command("current")
@reports_errors
def current() -> None:
    """Show the applied revisions and whether any are pending."""
    with open_kernel() as kernel, _migration_errors():
        applied = migrate.applied_heads(kernel.db.owner_engine)
        typer.echo(f"applied: {', '.join(sorted(applied)) or '(none)'}")
        pending = kernel.pending_migrations()
        typer.echo(f"pending: {', '.join(sorted(pending))}" if pending else "up to date")
