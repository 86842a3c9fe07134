"""``nentang tenant``: provision and administer tenants."""

from __future__ import annotations

from typing import Annotated

import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.tenancy.models import TenantKind
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import ValidationFailed

app = typer.Typer(help="Tenants: the central level, provinces, communes and units.", no_args_is_help=True)


def _line(t: TenantInfo) -> str:
    return f"{t.code:<8} {t.kind.value:<9} {t.status.value:<10} {'  ' * t.depth}{t.name}"


@app.command("create")
@reports_errors
def create(
    code: Annotated[str, typer.Argument(help="Official code, unique in the platform.")],
    name: Annotated[str, typer.Argument(help="Official name.")],
    parent: Annotated[str | None, typer.Option("--parent", "-p", help="Code of the parent tenant.")] = None,
    kind: Annotated[TenantKind, typer.Option(help="Kind of tenant.")] = TenantKind.UNIT,
) -> None:
    """Provision a tenant; it serves at once."""
    with open_kernel() as kernel:
        tenant = kernel.tenants.create(code=code, name=name, kind=kind, parent_code=parent, actor=Actor.command_line())
        typer.echo(f"created {tenant.kind.value} {tenant.code} ({tenant.name})")


@app.command("list")
@reports_errors
def list_(
    parent: Annotated[str | None, typer.Option("--parent", "-p", help="List the children of this tenant.")] = None,
    subtree: Annotated[bool, typer.Option(help="With --parent: the whole subtree, not just children.")] = False,
    kind: Annotated[TenantKind | None, typer.Option(help="Only tenants of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = 100,
) -> None:
    """List tenants: all (paged by code), the children of one, or a whole subtree."""
    with open_kernel() as kernel:
        if parent is None:
            tenants = kernel.tenants.list(kind=kind, limit=limit)
            total = None
        else:
            if limit < 1 or limit > 1000:
                raise ValidationFailed(f"limit must be between 1 and 1000, not {limit}")
            tenants = kernel.tenants.subtree(parent) if subtree else kernel.tenants.children(parent)
            if kind is not None:
                tenants = [t for t in tenants if t.kind == kind]
            total = len(tenants)
            tenants = tenants[:limit]
        for tenant in tenants:
            typer.echo(_line(tenant))
        if total is not None and total > len(tenants):
            typer.echo(f"({len(tenants)} of {total} tenants: raise --limit to see more)", err=True)
        else:
            typer.echo(f"({len(tenants)} tenants)", err=True)


@app.command("show")
@reports_errors
def show(code: Annotated[str, typer.Argument(help="Tenant code.")]) -> None:
    """Show one tenant with its ancestors."""
    with open_kernel() as kernel:
        tenant = kernel.tenants.get(code)
        ancestors = kernel.tenants.ancestors(code)
        children = kernel.tenants.children(code)
        typer.echo(f"code:      {tenant.code}")
        typer.echo(f"name:      {tenant.name}")
        typer.echo(f"kind:      {tenant.kind.value}" + (f" ({tenant.division_type})" if tenant.division_type else ""))
        typer.echo(f"status:    {tenant.status.value}")
        typer.echo(f"ancestors: {' > '.join(a.code for a in ancestors) or '(root)'}")
        typer.echo(f"children:  {len(children)}")
        typer.echo(f"created:   {tenant.created_at.isoformat()}")


@app.command("rename")
@reports_errors
def rename(code: str, name: str) -> None:
    """Change a tenant's name (its code never changes)."""
    with open_kernel() as kernel:
        tenant = kernel.tenants.rename(code, name, actor=Actor.command_line())
        typer.echo(f"renamed {tenant.code} to {tenant.name}")


@app.command("move")
@reports_errors
def move(
    code: Annotated[str, typer.Argument(help="Tenant to move, with its subtree.")],
    to: Annotated[str, typer.Option("--to", help="Code of the new parent.")],
) -> None:
    """Move a tenant and its whole subtree under another parent."""
    with open_kernel() as kernel:
        kernel.tenants.move(code, to, actor=Actor.command_line())
        typer.echo(f"moved {code} under {to}")


@app.command("suspend")
@reports_errors
def suspend(code: str, reason: Annotated[str, typer.Option(help="Why; recorded in the audit log.")] = "") -> None:
    """Suspend a tenant: it and everything below it stop serving requests."""
    with open_kernel() as kernel:
        kernel.tenants.suspend(code, actor=Actor.command_line(), reason=reason)
        typer.echo(f"suspended {code}")


@app.command("reactivate")
@reports_errors
def reactivate(code: str) -> None:
    """Reactivate a suspended tenant."""
    with open_kernel() as kernel:
        kernel.tenants.reactivate(code, actor=Actor.command_line())
        typer.echo(f"reactivated {code}")
