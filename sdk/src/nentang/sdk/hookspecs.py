"""The hooks a NenTang plugin may implement — the contract between the kernel and plugins.

Every hook here is called by the kernel **only for plugins enabled for the tenant in
question**: a plugin never checks "am I enabled here?". Implement a hook with
:data:`nentang.sdk.hookimpl` and accept any subset of its parameters (opt-in arguments), so
adding a parameter later never breaks a plugin.

Each hook says *When* it is called, for which *Tenant*, in which *Mode* (strict: an exception
rolls the caller's transaction back and is shown to the user; robust: an exception is recorded
against the plugin's error budget and the other plugins still run), what it returns, and how to
veto where vetoing is possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nentang.sdk._markers import hookspec

if TYPE_CHECKING:
    from nentang.sdk.console import ConsolePage
    from nentang.sdk.context import TenantContext
    from nentang.sdk.events import Event
    from nentang.sdk.graphql import GraphQLContribution

# --------------------------------------------------------------------------------------------
# Plugin lifecycle (per tenant)
# --------------------------------------------------------------------------------------------


@hookspec
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    """Prepare this plugin for one tenant as it is being enabled.

    When: inside the enabling transaction, after the permission, allow-list and dependency
        checks, before commit. Not called on worker start-up, nor when a plugin that is already
        enabled has its settings changed.
    Tenant: only the plugin being enabled, for ``ctx.tenant``.
    Mode: strict; any exception rolls back the whole enable (nothing of it remains).

    :param ctx: Context bound to the tenant and the acting administrator; ``ctx.session`` is
        the enabling transaction.
    :param settings: The tenant's settings, already validated against the plugin's schema.
    :returns: Nothing; the return value is ignored.
    :raises nentang.sdk.errors.ValidationFailed: to refuse; the message is shown to the administrator.

    .. versionadded:: 0.1
    """


@hookspec
def nentang_plugin_disable(ctx: TenantContext) -> None:
    """Let this plugin tidy up for one tenant as it is being disabled.

    When: inside the disabling transaction, before commit. The plugin's data is kept: a later
        enable finds it again. Not called when the plugin is quarantined.
    Tenant: only the plugin being disabled, for ``ctx.tenant``.
    Mode: strict; an exception rolls back the disable and the plugin stays enabled.

    :param ctx: Context bound to the tenant and the acting administrator.
    :returns: Nothing; the return value is ignored.
    :raises nentang.sdk.errors.ValidationFailed: to refuse; the message is shown to the administrator.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@hookspec
def nentang_event_received(ctx: TenantContext, event: Event) -> None:
    """Handle a domain event that happened in this tenant.

    When: after the transaction that emitted the event committed, by the kernel's event
        dispatcher, in order of emission per tenant. Delivery is at least once: after a crash
        an event may arrive again, so handlers remember what they have handled (``event.id``).
    Tenant: every plugin enabled for ``event.tenant_id`` at delivery time, including the
        emitter itself.
    Mode: robust; an exception is recorded against the plugin's error budget for the tenant and
        the event is offered again later; a plugin that keeps failing is quarantined there.
        The other plugins receive the event regardless.

    :param ctx: Context bound to the event's tenant, acting as ``system:events``; ``ctx.session``
        is a transaction of its own, committed when the hook returns.
    :param event: The event (id, type, tenant, payload, actor, time).
    :returns: Nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# GraphQL
# --------------------------------------------------------------------------------------------


@hookspec
def nentang_graphql_contribute() -> GraphQLContribution | None:
    """Give this plugin's types, query fields and mutation fields to the GraphQL schema.

    When: the first time a worker builds a schema for an enabled-plugin set that contains this
        plugin (usually when an activation change is heard, else on the first request of such a
        set), once per plugin version and worker; the result is kept and shared by every schema
        built later. Not called at start-up, nor per request.
    Tenant: none; the schema belongs to a *set* of plugins shared by many tenants, so the result
        must not depend on any tenant, request, setting or time. Per-tenant behaviour belongs in
        the resolvers, which reach their tenant through :func:`nentang.sdk.graphql.graphql_request`.
    Mode: strict for this plugin only; if it raises, or its contribution breaks a rule of
        :mod:`nentang.sdk.graphql` (namespaced names, no collisions, bounded lists), its fields are
        left out of the schema — which keeps serving the kernel and the other plugins — and the
        error, naming the plugin and the fix, is logged (``graphql.plugin_left_out``) and shown by
        ``nentang graphql schema --plugins <name>``.

    :returns: The contribution, or ``None`` when the plugin adds nothing to GraphQL.
    :raises Exception: any exception leaves the plugin out of the schema being built (see Mode).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# HTTP: the web console
# --------------------------------------------------------------------------------------------


@hookspec
def nentang_http_console_pages(ctx: TenantContext) -> list[ConsolePage]:
    """Give this plugin's pages of the web console at one unit (and their menu entries).

    When: on each request to a console page of a unit (to build its menu) and to one of this
        plugin's pages (to find the page), after the kernel checked the session and the unit;
        keep it cheap and free of writes.
    Tenant: only plugins enabled for ``ctx.tenant``; elsewhere the plugin's pages do not exist
        (``/t/{code}/console/p/{plugin}/...`` is a 404 page) and the menu has no entry for them.
    Mode: strict for this plugin only: if it raises, returns something other than a list of
        :class:`nentang.sdk.console.ConsolePage`, or a page is invalid (a bad ``path``, a
        permission the plugin does not declare, a missing ``vi``/``en`` title), the plugin has no
        pages at that request and the problem is logged (``console.plugin_pages_left_out``);
        the console and the other plugins' pages keep working.

    :param ctx: Context bound to the unit of the console and the signed-in person (``ctx.actor``);
        ``ctx.session`` reads that unit's data.
    :returns: The pages (possibly depending on ``ctx.settings``); an empty list when there are none.
        Each page's handler is called with a :class:`nentang.sdk.console.ConsoleRequest` only
        after the kernel's session, unit binding, CSRF and ``permission`` checks passed.
    :raises Exception: any exception leaves the plugin's pages out for this request (see Mode).

    .. versionadded:: 0.1
    """
