"""``nentang serve`` and ``nentang demo``: run the platform."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.engine import make_url

from nentang.kernel.cli.context import load_settings, open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import AdminBootstrap, ensure_administrator
from nentang.kernel.plugins.secrets import SecretBox
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.seed import CENTRAL_CODE, seed_national_tree
from nentang.sdk.errors import ValidationFailed

DEMO_DATABASE_URL = "sqlite:///var/nentang.db"
#: The demo's first administrator, with the admin role at the central tenant.
DEMO_ADMIN = "admin"
#: uvicorn's default (5 s) is shorter than a worker's start on a busy host (imports alone take 2-3 s):
#: a rolling restart whose new worker misses it is abandoned half-way, old workers still running.
WORKER_START_TIMEOUT = 60
#: uvicorn's default is no limit: one request that never ends would stall a rolling restart for good.
GRACEFUL_TIMEOUT = 30


@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (they share the database).")] = 1,
    worker_start_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a new worker may take to start during a rolling restart (kill -HUP) before the "
            "restart is abandoned; also how long the supervisor waits for a worker's liveness answer.",
        ),
    ] = WORKER_START_TIMEOUT,
    graceful_timeout: Annotated[
        int,
        typer.Option(min=1, help="Seconds a stopping worker lets requests in flight finish before cancelling them."),
    ] = GRACEFUL_TIMEOUT,
) -> None:
    """Serve the platform over HTTP (the database must be at head: `nentang db upgrade`).

    With 2 or more workers, `kill -HUP <pid of this process>` replaces the workers one at a time,
    each new one serving before the old one stops (docs/plugins-operations.md).
    """
    settings = load_settings()  # fail early, in this process, on bad NENTANG_* values
    require_configured_registry(settings, os.environ)
    os.environ["NENTANG_REGISTRY"] = str(settings.registry_path)  # every worker reads this very file
    SecretBox.for_settings(settings).require()  # and on a missing or malformed secrets key
    uvicorn.run(
        "nentang.kernel.http.server:app_from_environ",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_worker_healthcheck=worker_start_timeout,
        timeout_graceful_shutdown=graceful_timeout,
        h11_max_incomplete_event_size=request_head_limit(settings.graphql.max_body_bytes),
    )


def require_configured_registry(settings: Settings, environ: Mapping[str, str]) -> None:
    """In production the registry of approvals decides what runs: it must come from configuration
    as an absolute path, never from whatever directory the server was started in."""
    if settings.mode != "production":
        return
    raw = environ.get("NENTANG_REGISTRY", "").strip()
    if not raw:
        raise ValidationFailed(
            "nentang serve in production mode needs NENTANG_REGISTRY: the absolute path of registry.toml, "
            "the registry of approved plugin releases"
        )
    if not Path(raw).is_absolute():
        raise ValidationFailed(f"NENTANG_REGISTRY must be an absolute path in production mode, not {raw!r}")


def request_head_limit(max_body_bytes: int) -> int:
    """The largest request line and headers the HTTP server reads before giving up.

    h11's default (16 KiB) would cut off a GET whose query string is within the GraphQL limit
    with a bare 400 and a closed connection; twice the limit plus room for headers lets the
    endpoint answer 413 with its coded error to anything up to twice the documented limit."""
    return 2 * max_body_bytes + 16 * 1024


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
        admin = ensure_administrator(kernel, actor=Actor.system("demo"), username=DEMO_ADMIN, tenant_code=CENTRAL_CODE)
    url = f"http://{host}:{port}"
    typer.echo("")
    typer.secho(f"NenTang demo: {url}", bold=True)
    typer.secho(f"  console:      {url}/console/   (sign in with the user and password below)", bold=True)
    typer.echo(f"  health:       {url}/healthz   readiness: {url}/readyz")
    typer.echo(f"  a tenant:     {url}/t/{CENTRAL_CODE}/   (a province: {url}/t/01/, a commune: {url}/t/00070/)")
    typer.echo(f"  database:     {shown_database_url(settings.database_url)}")
    _print_sign_in(url, admin)
    if serve_after:
        typer.echo("  stop with Ctrl+C")
        # the demo serves plain http: let the session cookie work on loopback hosts (and only there)
        os.environ.setdefault("NENTANG_SESSION_COOKIE_SECURE", "false")
        serve(host=host, port=port, workers=1)


def shown_database_url(url: str) -> str:
    """The database URL as the demo prints it: never with its password (terminals are logged)."""
    return make_url(url).render_as_string(hide_password=True)


def _print_sign_in(url: str, admin: AdminBootstrap) -> None:
    if admin.password is not None:
        typer.secho(f"  sign in:      user {admin.username!r}, password {admin.password}", bold=True)
        typer.echo("                (shown this once and stored only as a hash: note it now)")
        password = admin.password
    else:
        typer.echo(f"  sign in:      user {admin.username!r}; its password was shown when the demo first started")
        typer.echo(f"                forgot it? reset it: nentang user passwd {admin.username} --generate-password")
        password = "<password>"
    login = f'{{"username": "{admin.username}", "password": "{password}"}}'
    typer.echo(f"  log in:       curl -c var/cookies -H 'content-type: application/json' -d '{login}' {url}/auth/login")
    typer.echo(f"  who am I:     curl -b var/cookies {url}/auth/me")
