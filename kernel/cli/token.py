"""``nentang token``: operator commands for integrators' API tokens — create, list, revoke.

They act as the operator running the command (``Actor.command_line()``) through the token service's
operator paths, audited like an administrator's act. The token is printed once at creation; only
its hash is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.tokens import MAX_LIFETIME_DAYS, TokenInfo

#: The most tokens one page lists (the GraphQL API's page limit is of the same order).
MAX_PAGE: Final = 1000

app = typer.Typer(help="API tokens for integrators: scoped to a tenant, with roles, expiring.", no_args_is_help=True)


def _state(token: TokenInfo) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if datetime.now(UTC) >= token.expires_at else "active"


@app.command("create")
@reports_errors
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The tenant the token acts for.")],
    name: Annotated[str, typer.Option("--name", help="Who uses it and for what (unique in the tenant).")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="A role to give the token (repeatable).")],
    expires_in_days: Annotated[
        int, typer.Option("--expires-in-days", min=1, max=MAX_LIFETIME_DAYS, help="Lifetime in days (1-365).")
    ],
) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    with open_kernel() as kernel:
        created = kernel.tokens.create_as_operator(
            Actor.command_line(), tenant_code=tenant, name=name, roles=role, expires_in_days=expires_in_days
        )
        info = created.token
        typer.echo(f"created token {info.id} ({info.name}) for {tenant}: roles {', '.join(info.roles or ())}")
        typer.echo(f"expires {info.expires_at:%Y-%m-%d %H:%M} UTC")
        typer.secho(created.plaintext, bold=True)
        typer.echo("  (shown once; send it as 'Authorization: Bearer <token>')", err=True)


@app.command("list")
@reports_errors
def list_(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The tenant whose tokens to list.")],
    first: Annotated[int, typer.Option("--first", min=1, max=MAX_PAGE, help="At most this many tokens.")] = 100,
    after: Annotated[int, typer.Option("--after", min=0, help="Only tokens with an id above this one.")] = 0,
) -> None:
    """List a tenant's tokens by id (never their secrets): id, prefix, state, expiry, last use,
    roles, name. A full page ends with the option that shows the next one."""
    with open_kernel() as kernel:
        tokens = kernel.tokens.list_as_operator(tenant, limit=first + 1, after=after)
        more = len(tokens) > first
        tokens = tokens[:first]
        for token in tokens:
            last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            typer.echo(
                f"{token.id:<6} {token.prefix:<12} {_state(token):<8} expires {token.expires_at:%Y-%m-%d} "
                f"used {last:<16} {','.join(token.roles or ()):<20} {token.name}"
            )
        typer.echo(f"({len(tokens)} tokens)", err=True)
        if more:
            typer.echo(f"(more: --after {tokens[-1].id})", err=True)


@app.command("revoke")
@reports_errors
def revoke(token_id: Annotated[int, typer.Argument(help="The token's id (see `nentang token list`).")]) -> None:
    """Revoke a token at once and remove its roles."""
    with open_kernel() as kernel:
        token = kernel.tokens.revoke_as_operator(Actor.command_line(), token_id)
        typer.echo(f"revoked token {token.id} ({token.name})")
