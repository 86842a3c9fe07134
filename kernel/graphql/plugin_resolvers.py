"""Plugins' resolvers run under the watchdog: off the event loop, with a deadline.

When a schema is built, every field a plugin owns that has a resolver of its own (a root field it
contributes, or a field with a resolver on one of its types) gets its graphql-core ``resolve``
wrapped: the wrapper runs strawberry's resolver — the plugin's function with its arguments
converted — in one of the watchdog's plugin threads (``kernel/plugins/watchdog.py``), marked as
the plugin's call ``Type.field``. Past the deadline the field's error is ``plugin.timeout``, naming
the plugin, like any other resolver error (HTTP 200 with ``errors[]``, the rest of the response
intact), and the plugin's error budget at the tenant is charged: repeated timeouts quarantine it
there, and its fields then do not exist for that tenant. A call that timed out waiting for a free
place among the plugin's threads is not charged (it never ran).

The wrapping is done on the graphql-core schema built for an enabled-plugin set, never on the
plugin's strawberry classes (shared by every set, and checked alone in ``contributions.py``).

Not wrapped, so still run on the event loop: reading a field without a resolver (an attribute;
a plugin that makes it a ``property`` runs code there), a plugin's scalar ``serialize``/``parse``.
The static review is what keeps those plain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from graphql import GraphQLObjectType, GraphQLResolveInfo
from starlette.concurrency import run_in_threadpool

from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.plugins.running import PluginCall
from nentang.kernel.plugins.watchdog import PluginTimeout, Watchdog

if TYPE_CHECKING:
    from nentang.kernel.graphql.served import ServedSchema  # served -> completion -> batching -> here

#: Set on a wrapper, so that a schema is never wrapped twice.
_GUARDED: Final = "__nentang_guarded__"


def guard_plugin_resolvers(served: ServedSchema, watchdog: Watchdog, budget: ErrorBudget) -> list[str]:
    """Wrap the resolvers of plugin-owned fields of ``served``; returns the fields wrapped."""
    wrapped = []
    for type_ in served.schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            plugin = served.owner(type_.name, name)
            if plugin is None or field.resolve is None or getattr(field.resolve, _GUARDED, False):
                continue
            definition = (field.extensions or {}).get("strawberry-definition")
            if getattr(definition, "base_resolver", None) is None:
                continue  # a plain attribute: nothing of the plugin's runs to read it
            entry = f"{type_.name}.{name}"
            field.resolve = _guarded(field.resolve, plugin, entry, watchdog, budget)
            wrapped.append(entry)
    return wrapped


def _guarded(
    resolve: Callable[..., Any], plugin: str, entry: str, watchdog: Watchdog, budget: ErrorBudget
) -> Callable[..., Awaitable[Any]]:
    async def guarded(root: Any, info: GraphQLResolveInfo, /, **arguments: Any) -> Any:  # or "root", "info"
        tenant = info.context.tenant
        call = PluginCall(plugin, tenant.id, entry)
        return await run_plugin_resolver(watchdog, budget, call, tenant, resolve, root, info, **arguments)

    setattr(guarded, _GUARDED, True)
    return guarded


async def run_plugin_resolver(
    watchdog: Watchdog,
    budget: ErrorBudget,
    call: PluginCall,
    tenant: Any,
    resolve: Callable[..., Any],
    /,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """``resolve(*args, **kwargs)`` as the plugin's call ``call``, a timeout charged to its budget
    (also the one call of a plugin's batch field, ``batching.py``)."""
    try:
        return await watchdog.run_resolver(call, resolve, *args, **kwargs)
    except PluginTimeout as timeout:
        # a call that ran past its deadline counts like a failed hook (the quarantine, a database
        # write, waits in a worker thread); one that only waited for a place counts for nothing:
        # a burst of requests must not quarantine a plugin that answers in time
        if not timeout.waiting:
            await run_in_threadpool(budget.failed, call.plugin, tenant_ref(tenant), timeout)
        raise
