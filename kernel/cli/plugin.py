"""``nentang plugin``: what is installed, and per-tenant activation, policies and quarantines.

Every command scans the installed plugins first (``kernel.plugins.scan()``): the same discovery,
manifest, approval and import checks a worker runs at start-up, so what this command calls
quarantined is what a worker quarantines. The scan's own log lines are held back — the commands
report what matters. Operators act as ``Actor.command_line()`` through the services' operator
paths (no principal to check; every change is audited on the tenant).

Settings are JSON objects. Secrets are better given in a file (``--settings-file``, ``-`` for
stdin) than on the command line, where other local users and the shell history can read them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from nentang.kernel.cli.context import open_kernel, reports_errors
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.activation_view import ActivationView
from nentang.kernel.plugins.host import ScanReport
from nentang.kernel.plugins.installed import approval_state, installed_plugins
from nentang.kernel.plugins.reseal import reseal_all
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NotFound, ValidationFailed

app = typer.Typer(
    help="Plugins: what is installed and quarantined, and per-tenant enable, settings, allow and lock.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="Plugin name (as in its manifest).")]
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant code.")]


# -- helpers ------------------------------------------------------------------------------------


@contextmanager
def _scanned() -> Iterator[Kernel]:
    """A kernel whose plugin host has scanned the installed plugins (quietly)."""
    with open_kernel() as kernel:
        _quiet_scan(kernel.plugins.scan)
        yield kernel


def _quiet_scan(scan: Callable[[], ScanReport]) -> ScanReport:
    """Run a scan without its per-plugin log lines (the command reports the outcome itself)."""
    saved = structlog.get_config()
    structlog.configure(processors=[_drop_event])
    try:
        return scan()
    finally:
        structlog.configure(**saved)


def _drop_event(_logger: Any, _method: str, _event: Any) -> Any:
    raise structlog.DropEvent


def _settings_json(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"settings from {source} are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            code="plugin.settings_json",
        ) from None
    if not isinstance(value, dict):
        raise ValidationFailed(
            f"settings from {source} must be a JSON object, like '{{\"limit\": 5}}', not {type(value).__name__}",
            code="plugin.settings_json",
        )
    return value


def _settings_input(text: str | None, path: Path | None, *, text_flag: str, file_flag: str) -> dict[str, Any] | None:
    if text is not None and path is not None:
        raise ValidationFailed(f"give the settings with {text_flag} or with {file_flag}, not both")
    if text is not None:
        return _settings_json(text, text_flag)
    if path is None:
        return None
    if str(path) == "-":
        return _settings_json(sys.stdin.read(), "standard input")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"cannot read the settings file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}",
            code="plugin.settings_file",
        ) from None
    return _settings_json(content, str(path))


def _dumps(settings: Mapping[str, Any]) -> str:
    return json.dumps(dict(settings), ensure_ascii=False, sort_keys=True)


def _platform_rows(kernel: Kernel) -> list[tuple[str, str, str, str, list[str]]]:
    """(name, version, status, approval, detail lines) for every installed plugin."""
    host = kernel.plugins.host
    rows = []
    for plugin in installed_plugins(host):
        approval = approval_state(host, plugin).value
        if plugin.quarantined is None:
            rows.append((plugin.name, plugin.version, "registered", approval, []))
            continue
        quarantined = plugin.quarantined
        details = [f"reason: {quarantined.reason}"] + [f"finding: {f}" for f in quarantined.findings]
        rows.append((plugin.name, plugin.version, "quarantined", approval, details))
    return rows


def _tenant_details(view: ActivationView | None, platform_quarantined: bool) -> tuple[str, list[str]]:
    if view is None:  # a quarantined plugin never enabled here
        return "disabled", []
    state = "enabled" if view.enabled else "disabled"
    if view.locked_by:
        state += f", locked on by {view.locked_by}"
    details = []
    if view.enabled or view.settings:
        details.append(f"settings: {_dumps(view.settings)}")
    if view.quarantined and not platform_quarantined:
        details.append(f"quarantined at {view.tenant}: {view.quarantined}")
    return state, details


def _echo_view(verb: str, view: ActivationView) -> None:
    typer.echo(f"{verb} {view.plugin} {view.version} at {view.tenant}")
    if view.settings:
        typer.echo(f"  settings: {_dumps(view.settings)}")


# -- commands -----------------------------------------------------------------------------------


@app.command("list")
@reports_errors
def list_(
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", "-t", help="Also show the plugins' state at this tenant (enabled, lock, settings)."),
    ] = None,
) -> None:
    """List installed plugins: version, registered or quarantined (with why), approval."""
    with _scanned() as kernel:
        rows = _platform_rows(kernel)
        views = {v.plugin: v for v in kernel.plugins.activation.list(tenant)} if tenant is not None else {}
        for name, version, status, approval, details in rows:
            line = f"{name:<20} {version:<10} {status:<12} {approval:<11}"
            if tenant is not None:
                state, tenant_details = _tenant_details(views.get(name), status == "quarantined")
                line += f" {state}"
                details = details + tenant_details
            typer.echo(line.rstrip())
            for detail in details:
                typer.echo(f"    {detail}")
        # activation rows of plugins no longer installed: their data stays, they do nothing
        for name in sorted(views.keys() - {row[0] for row in rows}):
            state, tenant_details = _tenant_details(views[name], False)
            typer.echo(f"{name:<20} {views[name].version:<10} {'uninstalled':<12} {'-':<11} {state}")
            for detail in tenant_details:
                typer.echo(f"    {detail}")
        quarantined = sum(1 for row in rows if row[2] == "quarantined")
        typer.echo(f"({len(rows)} plugins installed, {quarantined} quarantined)", err=True)


@app.command("enable")
@reports_errors
def enable(
    name: NameArgument,
    tenant: TenantOption,
    settings: Annotated[str | None, typer.Option("--settings", help="Settings as a JSON object.")] = None,
    settings_file: Annotated[
        Path | None, typer.Option("--settings-file", help="Read the settings (a JSON object) from a file; - for stdin.")
    ] = None,
    with_dependencies: Annotated[
        bool, typer.Option("--with-dependencies", help="Also enable the plugins it requires that are not enabled.")
    ] = False,
) -> None:
    """Enable a plugin at a tenant (checks, dependencies, its setup hook: all or nothing)."""
    wanted = _settings_input(settings, settings_file, text_flag="--settings", file_flag="--settings-file")
    with _scanned() as kernel:
        activation = kernel.plugins.activation
        before = {v.plugin for v in activation.list(tenant) if v.enabled}
        view = activation.enable(
            actor=Actor.command_line(),
            plugin=name,
            tenant_code=tenant,
            settings=wanted,
            with_dependencies=with_dependencies,
            checked=False,
        )
        _echo_view("enabled", view)
        also = sorted({v.plugin for v in activation.list(tenant) if v.enabled} - before - {name})
        if also:
            typer.echo(f"  also enabled (required by {name}): {', '.join(also)}")
        loaded = kernel.plugins.host.plugins[name]
        if loaded.approval_warnings:
            typer.echo(
                f"warning: {name} {loaded.version} is not approved as installed "
                f"({loaded.approval_warnings[0].code}); only development mode allows that",
                err=True,
            )


@app.command("disable")
@reports_errors
def disable(name: NameArgument, tenant: TenantOption) -> None:
    """Disable a plugin at a tenant (its data and settings are kept)."""
    with _scanned() as kernel:
        view = kernel.plugins.activation.disable(
            actor=Actor.command_line(), plugin=name, tenant_code=tenant, checked=False
        )
        typer.echo(f"disabled {view.plugin} at {view.tenant} (its data and settings are kept)")


@app.command("allow")
@reports_errors
def allow(
    name: NameArgument,
    tenant: TenantOption,
    deny: Annotated[
        bool, typer.Option("--deny", help="Forbid it instead: the tenants below cannot enable it.")
    ] = False,
) -> None:
    """Allow a plugin in the tenants below a tenant (or forbid it with --deny)."""
    with _scanned() as kernel:
        kernel.plugins.activation.set_policy(
            actor=Actor.command_line(), plugin=name, tenant_code=tenant, allowed=not deny, checked=False
        )
        if deny:
            typer.echo(f"{tenant} does not allow {name} in the tenants below it (they cannot enable it)")
        else:
            typer.echo(f"{tenant} allows {name} in the tenants below it")


@app.command("lock")
@reports_errors
def lock(
    name: NameArgument,
    tenant: TenantOption,
    unlock: Annotated[
        bool, typer.Option("--unlock", help="Lift the lock instead (it stays enabled where it is).")
    ] = False,
) -> None:
    """Lock a plugin on in the tenants below a tenant: enabled there, and they cannot disable it."""
    with _scanned() as kernel:
        kernel.plugins.activation.set_policy(
            actor=Actor.command_line(), plugin=name, tenant_code=tenant, locked=not unlock, checked=False
        )
        if unlock:
            typer.echo(f"{name} is no longer locked on below {tenant} (it stays enabled; they may disable it)")
        else:
            typer.echo(f"{name} is locked on below {tenant}: enabled at every level it supports, cannot be disabled")


@app.command("settings")
@reports_errors
def settings(
    name: NameArgument,
    tenant: TenantOption,
    set_: Annotated[
        str | None,
        typer.Option("--set", help="Replace the settings with this JSON object (a masked secret keeps its value)."),
    ] = None,
    set_file: Annotated[Path | None, typer.Option("--set-file", help="As --set, from a file; - for stdin.")] = None,
) -> None:
    """Show a plugin's settings at a tenant (secrets masked), or replace them."""
    wanted = _settings_input(set_, set_file, text_flag="--set", file_flag="--set-file")
    with _scanned() as kernel:
        activation = kernel.plugins.activation
        if wanted is None:
            view = activation.view(name, tenant)
            typer.echo(json.dumps(dict(view.settings), ensure_ascii=False, sort_keys=True, indent=2))
            if not view.enabled:
                typer.echo(f"({name} is not enabled at {tenant})", err=True)
            return
        view = activation.update_settings(
            actor=Actor.command_line(), plugin=name, tenant_code=tenant, settings=wanted, checked=False
        )
        typer.echo(f"updated the settings of {view.plugin} at {view.tenant}")
        typer.echo(f"  settings: {_dumps(view.settings)}")


@app.command("rescan")
@reports_errors
def rescan() -> None:
    """Find plugins installed since start-up and have every running worker register them (audited)."""
    with open_kernel() as kernel:
        report = _quiet_scan(lambda: kernel.plugins.rescan(Actor.command_line()))
        host = kernel.plugins.host
        for name in report.registered:
            typer.echo(f"registered   {name} {host.plugins[name].version}")
        for name in report.quarantined:
            quarantined = host.quarantined[name]
            typer.echo(f"quarantined  {name} {quarantined.version}: {quarantined.reason}")
            for finding in quarantined.findings:
                typer.echo(f"    finding: {finding}")
        for name in report.unchanged:
            typer.echo(f"unchanged    {name}")
        typer.echo(
            f"rescan: {len(report.registered)} registered, {len(report.quarantined)} quarantined, "
            f"{len(report.unchanged)} unchanged; every running worker was asked to rescan "
            "(upgraded plugins need a rolling restart: docs/plugins-operations.md)"
        )


@app.command("reseal")
@reports_errors
def reseal() -> None:
    """Seal every stored plugin secret with the first key of NENTANG_SECRETS_KEY (after an upgrade
    from plaintext settings, or to finish a key rotation before the old key is removed)."""
    with _scanned() as kernel:
        changed, skipped = reseal_all(kernel.db, kernel.plugins.host, kernel.plugins.secrets)
        for name in skipped:
            typer.echo(f"skipped      {name}: not registered here, so which settings are secret is unknown")
        typer.echo(f"resealed {changed} activation row(s) with key {kernel.plugins.secrets.sealing_id}")


@app.command("release")
@reports_errors
def release(name: NameArgument, tenant: TenantOption) -> None:
    """Lift a plugin's quarantine at a tenant (after its hooks kept failing there and were fixed)."""
    with open_kernel() as kernel:
        info = kernel.tenants.get(tenant)
        if not kernel.plugins.budget.release(name, info.id, Actor.command_line()):
            raise NotFound(f"plugin {name!r} is not quarantined at {tenant!r}", code="plugin.not_quarantined")
        typer.echo(f"released {name} at {tenant}: its hooks are called there again")
