"""``nentang serve`` and ``nentang demo``: run the platform."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from nentang.kernel.cli.context import load_settings, open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.tenancy.seed import CENTRAL_CODE, seed_national_tree

DEMO_DATABASE_URL = "sqlite:///var/nentang.db"


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (they share the database).")] = 1,
) -> None:
    """Serve the platform over HTTP (the database must be at head: `nentang db upgrade`)."""
    load_settings()  # fail early, in this process, on bad NENTANG_* values
    uvicorn.run(
        "nentang.kernel.http.server:app_from_environ",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@reports_errors
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server after set-up.")] = True,
) -> None:
    """Set up the embedded demo (SQLite under ./var/, national tree) and serve it."""
    os.environ.setdefault("NENTANG_DATABASE_URL", DEMO_DATABASE_URL)
    os.environ.setdefault("NENTANG_MODE", "development")
    os.environ.setdefault("NENTANG_LOG_FORMAT", "console")
    settings = load_settings()
    with open_kernel(settings) as kernel:
        kernel.upgrade_database()
        result = seed_national_tree(kernel.db, kernel.tenants, kernel.audit, Actor.system("demo"))
        state = "seeded" if result.created else "already present"
        typer.echo(
            f"national tree {state}: 1 central + {result.provinces} provinces + {result.communes} communes "
            f"({kernel.tenants.count()} tenants in all)"
        )
    url = f"http://{host}:{port}"
    typer.echo("")
    typer.secho(f"NenTang demo: {url}", bold=True)
    typer.echo(f"  health:       {url}/healthz   readiness: {url}/readyz")
    typer.echo(f"  a tenant:     {url}/t/{CENTRAL_CODE}/   (a province: {url}/t/01/, a commune: {url}/t/00070/)")
    typer.echo(f"  database:     {settings.database_url}")
    if serve_after:
        typer.echo("  stop with Ctrl+C")
        serve(host=host, port=port, workers=1)
