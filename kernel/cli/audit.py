"""``nentang audit``: verify the hash chains of the audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.cli.context import open_kernel, reports_errors

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
@reports_errors
def verify(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: all).")] = None,
) -> None:
    """Check every chain; report the first broken link of each; exit 1 if any is broken."""
    with open_kernel() as kernel:
        if tenant is not None:
            one = kernel.tenants.get(tenant)
            codes = {one.id: one.code}
        else:
            codes = kernel.tenants.codes_by_id()
        reports = verify_chains(kernel.db, codes)
        broken = [r for r in reports if not r.ok]
        for report in broken:
            typer.secho(
                f"BROKEN tenant {codes[report.tenant_id]}: entry {report.broken_seq}: {report.reason}",
                fg=typer.colors.RED,
            )
        entries = sum(r.checked for r in reports)
        typer.echo(f"audit: {len(reports)} chains, {entries} entries verified, {len(broken)} broken")
        if broken:
            raise typer.Exit(1)
