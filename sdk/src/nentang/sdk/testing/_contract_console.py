"""The contract's ``console`` check: a plugin's console pages exist only where it is enabled.

The pages are found as the console finds them for a request (``find_pages``: the hook asked
through the dispatcher, the answer validated), at the unit where the plugin is enabled, at one where
it never was, and at the first after it is disabled there. Pages at either of the last two are
``contract.console_leak``; a plugin that implements the hook yet has no valid page where it is
enabled is ``contract.console_missing`` (a warning: its pages may depend on its settings; the log
line ``console.plugin_pages_left_out`` says why an answer was refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from nentang.sdk.context import TenantRef

if TYPE_CHECKING:
    from nentang.sdk.testing._running import RunningKernel
    from nentang.sdk.testing.contract import Collector

HOOK: Final = "nentang_http_console_pages"


def implements_pages(running: RunningKernel, plugin: str) -> bool:
    caller = getattr(running.raw.plugins.host.pm.hook, HOOK, None)
    return caller is not None and any(impl.plugin_name == plugin for impl in caller.get_hookimpls())


def console_paths(running: RunningKernel, plugin: str, tenant: TenantRef, actor: str) -> set[str]:
    """The paths of ``plugin``'s pages the console would serve at ``tenant`` now."""
    from nentang.kernel.console.plugin_pages import find_pages

    info = running.raw.tenants.get(tenant.code)
    return {page.path for page in find_pages(running.raw, info, actor).get(plugin, ())}


def console_verdict(
    collect: Collector,
    plugin: str,
    implements: bool,
    at_a: tuple[TenantRef, set[str] | None],
    at_b: tuple[TenantRef, set[str]],
    after_disable: set[str] | None,
) -> None:
    (a, pages_a), (b, pages_b) = at_a, at_b
    for where, pages, why in ((b, pages_b, "where it is not enabled"), (a, after_disable, "after disabling")):
        if pages:
            shown = sorted(f"/t/{where.code}/console/p/{plugin}/{p}" for p in pages)
            collect.add("console", "contract.console_leak", where.code, f"pages {shown} exist at {where.code} {why}")
    if implements and pages_a is not None and not pages_a:
        collect.add(
            "console",
            "contract.console_missing",
            a.code,
            f"{HOOK} is implemented, but no valid page exists where the plugin is enabled "
            "(see the log line console.plugin_pages_left_out)",
            "warning",
        )
    count = len(pages_a or ())
    collect.done("console", f"{count} page(s) where enabled, none elsewhere" if implements else "adds no pages")
