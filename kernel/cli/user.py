"""``nentang user``: operator commands for users — create, list, passwd, disable, enable, grant, link-oidc.

These act as the operator running the command (``Actor.command_line()``) through the services'
explicit operator paths: whoever can run this command already controls the server, so there is no
principal to check, but every act is audited. Passwords are never taken as arguments (they would
land in the shell history): they are prompted for (hidden, twice) or generated and shown once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import generate_password
from nentang.kernel.identity.passwords import MIN_PASSWORD_LENGTH
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.identity.users import tenant_by_code
from nentang.sdk.errors import ValidationFailed

app = typer.Typer(help="Users: create them, reset passwords, disable them, grant them roles.", no_args_is_help=True)

GenerateOption = Annotated[
    bool, typer.Option("--generate-password", help="Generate a random password and print it once (no prompt).")
]


def _password(username: str, generate: bool) -> tuple[str, bool]:
    if generate:
        return generate_password(), True
    question = f"Password for {username} (at least {MIN_PASSWORD_LENGTH} characters)"
    password = typer.prompt(question, hide_input=True, confirmation_prompt=True)
    return str(password), False


def _show_generated(username: str, password: str) -> None:
    typer.secho(f"password for {username}: {password}", bold=True)
    typer.echo("  (shown once, stored only as a hash; hand it over safely)")


def _line(user: UserInfo, codes: dict[int, str]) -> str:
    home = codes.get(user.home_tenant_id, str(user.home_tenant_id))
    login = "password" if user.has_password else "oidc"
    return f"{user.username:<24} {user.status:<9} {home:<8} {login:<8} {user.display_name}"


@app.command("create")
@reports_errors
def create(
    username: Annotated[str, typer.Argument(help="Lower-case login name (3-64: a-z, 0-9, '.', '_', '-').")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Code of the user's home tenant.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    generate: GenerateOption = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No local password: the user signs in through OIDC only.")
    ] = False,
) -> None:
    """Create a user homed at a tenant (prompts for the password unless told otherwise)."""
    if generate and no_password:
        raise ValidationFailed("choose one of --generate-password and --no-password")
    password, generated = (None, False) if no_password else _password(username, generate)
    with open_kernel() as kernel:
        user = kernel.users.create_user_as_operator(
            Actor.command_line(),
            username=username,
            display_name=name,
            home_tenant_code=tenant,
            password=password,
            email=email,
        )
        typer.echo(f"created user {user.username} (id {user.id}) at {tenant}")
    if generated and password is not None:
        _show_generated(username, password)


@app.command("list")
@reports_errors
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only users homed at this tenant.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    after: Annotated[str, typer.Option(help="Start after this username (paging).")] = "",
) -> None:
    """List users by username: name, status, home tenant, how they sign in, display name."""
    with open_kernel() as kernel:
        users = kernel.users.list(home_tenant_code=tenant, limit=limit, after=after)
        codes = kernel.tenants.codes_by_id() if users else {}
        for user in users:
            typer.echo(_line(user, codes))
        typer.echo(f"({len(users)} users)", err=True)


@app.command("passwd")
@reports_errors
def passwd(
    username: Annotated[str, typer.Argument(help="The user whose password to set.")],
    generate: GenerateOption = False,
) -> None:
    """Set a user's password (its open web sessions end)."""
    password, generated = _password(username, generate)
    with open_kernel() as kernel:
        kernel.users.set_password_as_operator(Actor.command_line(), username, password)
        typer.echo(f"password of {username} changed; its web sessions were ended")
    if generated:
        _show_generated(username, password)


@app.command("disable")
@reports_errors
def disable(
    username: Annotated[str, typer.Argument(help="The user to disable.")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit log.")] = "",
) -> None:
    """Disable a user: no more sign-ins, and every open web session ends now."""
    with open_kernel() as kernel:
        kernel.users.disable_as_operator(Actor.command_line(), username, reason=reason)
        typer.echo(f"disabled {username}")


@app.command("enable")
@reports_errors
def enable(username: Annotated[str, typer.Argument(help="The user to enable again.")]) -> None:
    """Enable a disabled user."""
    with open_kernel() as kernel:
        kernel.users.enable_as_operator(Actor.command_line(), username)
        typer.echo(f"enabled {username}")


@app.command("grant")
@reports_errors
def grant(
    username: Annotated[str, typer.Argument(help="The user to grant the role to.")],
    role: Annotated[str, typer.Argument(help="Role name, e.g. admin, auditor, viewer.")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Where: the role applies here and below.")],
) -> None:
    """Grant a role to a user at a tenant (and so at every tenant below it)."""
    with open_kernel() as kernel:
        user = kernel.users.get(username)
        with kernel.db.platform() as session, session.begin():
            tenant_id = tenant_by_code(session, tenant).id or 0
            kernel.authz.grant_as_operator(
                session, actor=Actor.command_line(), principal=user.principal, role=role, tenant_id=tenant_id
            )
        typer.echo(f"granted {role} to {username} at {tenant} (and below)")


@app.command("link-oidc")
@reports_errors
def link_oidc(
    username: Annotated[str, typer.Argument(help="The user who will sign in through the identity provider.")],
    issuer: Annotated[str, typer.Option("--issuer", help="The provider's issuer URL, exactly as it publishes it.")],
    subject: Annotated[str, typer.Option("--subject", help="The person's 'sub' at that provider.")],
) -> None:
    """Link a user to an account at the identity provider, so OIDC sign-in admits them (replaces any link)."""
    with open_kernel() as kernel:
        kernel.users.link_oidc_as_operator(Actor.command_line(), username, issuer=issuer, subject=subject)
        typer.echo(f"linked {username} to subject {subject!r} at {issuer}")
        configured = kernel.settings.identity.oidc
        if configured is None or configured.issuer != issuer.strip():
            now_set = configured.issuer if configured is not None else "none (NENTANG_OIDC_ISSUER is unset)"
            typer.secho(
                f"note: the configured issuer is {now_set}; sign-ins match the link only when they are equal",
                err=True,
                fg=typer.colors.YELLOW,
            )
