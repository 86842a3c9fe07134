"""Every act the console can perform, with its GraphQL twin: one registry, one way to run an act.

Parity (issue 15, item 8): a console act and its GraphQL mutation must be the same act — the same
permission checked at the same unit by the same rule (:meth:`AuthzService.require`, the rule of
``GraphQLContext.require_at``), then the same service function, which writes the same audit entry.
So handlers never call a service directly: they call :func:`run`, which looks the act up in
:data:`ACTIONS`. A test enumerates :data:`ACTIONS` and checks, for each, that the GraphQL schema has
the mutation, that its resolver calls the same service function, and that both leave the same
audit entry.

A refused act is a security event: ``console.refused`` in the acting unit, the unit aimed at, and
the person's home unit (throttled like GraphQL's ``graphql.refused``), and the refusal carries its
reason to the page.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any, Final, final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from nentang.kernel.authz.permissions import (
    AUDIT_READ,
    PLUGINS_MANAGE,
    TENANTS_CREATE,
    TENANTS_MANAGE,
    TOKENS_MANAGE,
    USERS_MANAGE,
)
from nentang.kernel.console.pages import caller_in, console_of, refusal
from nentang.kernel.http.state import tenant_of
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NentangError, PermissionDenied


@final
@dataclass(frozen=True, slots=True)
class ConsoleAction:
    #: The console's name of the act (``unit.create``), also the ``action`` of a refusal's audit detail.
    name: str
    #: The GraphQL mutation field doing the same act.
    graphql: str
    #: The permission checked at the unit the act is aimed at before the service runs (``None``: the
    #: service's own delegation check decides, and audits its refusals, as for GraphQL).
    permission: str | None
    #: The service function, as a path from the kernel (``tenants.create`` is ``kernel.tenants.create``).
    service: str
    #: The service takes the caller's platform session (its checks read inside the write's transaction).
    in_session: bool = False

    def service_function(self, kernel: Kernel) -> Any:
        return attrgetter(self.service)(kernel)


ACTIONS: Final = {
    action.name: action
    for action in (
        ConsoleAction("unit.create", "createTenant", TENANTS_CREATE, "tenants.create"),
        ConsoleAction("unit.suspend", "suspendTenant", TENANTS_MANAGE, "tenants.suspend"),
        ConsoleAction("unit.reactivate", "reactivateTenant", TENANTS_MANAGE, "tenants.reactivate"),
        ConsoleAction("user.create", "createUser", USERS_MANAGE, "users.create_user"),
        ConsoleAction("user.disable", "disableUser", USERS_MANAGE, "users.disable"),
        ConsoleAction("user.enable", "enableUser", USERS_MANAGE, "users.enable"),
        ConsoleAction("grant.create", "grantRole", None, "authz.grant", in_session=True),
        ConsoleAction("grant.revoke", "revokeGrant", None, "authz.revoke", in_session=True),
        ConsoleAction("role.create", "createRole", None, "authz.create_role", in_session=True),
        ConsoleAction("token.create", "createApiToken", TOKENS_MANAGE, "tokens.create"),
        ConsoleAction("token.revoke", "revokeApiToken", None, "tokens.revoke"),
        ConsoleAction("plugin.enable", "enablePlugin", PLUGINS_MANAGE, "plugins.activation.enable"),
        ConsoleAction("plugin.disable", "disablePlugin", PLUGINS_MANAGE, "plugins.activation.disable"),
        ConsoleAction("plugin.settings", "updatePluginSettings", PLUGINS_MANAGE, "plugins.activation.update_settings"),
        ConsoleAction("plugin.release", "releasePlugin", PLUGINS_MANAGE, "plugins.budget.release"),
        ConsoleAction("plugin.policy", "setPluginPolicy", PLUGINS_MANAGE, "plugins.activation.set_policy"),
    )
}


@final
@dataclass(frozen=True, slots=True)
class ConsoleRead:
    """A console page reading what a GraphQL query field reads (no act, so not in :data:`ACTIONS`):
    the same permission at the same unit, then the same function (``module.function``)."""

    name: str
    #: The GraphQL query field reading the same.
    graphql: str
    permission: str
    function: str


READS: Final = {
    read.name: read
    for read in (
        ConsoleRead("audit.read", "auditLog", AUDIT_READ, "nentang.kernel.audit.query.read_page"),
        ConsoleRead("audit.verify", "verifyAuditChain", AUDIT_READ, "nentang.kernel.audit.verify.verify_chains"),
    )
}


async def run(request: Request, name: str, at: TenantInfo, /, **arguments: Any) -> Any:
    """Check the act's permission at ``at``, then call its service function with ``arguments`` and
    the signed-in person as the actor. Raises what the service raises (nothing changed)."""
    action = ACTIONS[name]
    console = console_of(request)
    caller = caller_in(request)
    acting = tenant_of(request)

    def act() -> Any:
        kernel = console.kernel
        if action.permission is not None:
            try:
                kernel.authz.require(caller.principal, at.id, action.permission)
            except PermissionDenied as refused:
                console.refusals.record(
                    actor=caller.actor,
                    tenant_ids=(acting.id, at.id),
                    action="console.refused",
                    target=at.code,
                    code=refused.code,
                    detail={"action": name, "permission": action.permission, "attempted": at.code},
                )
                raise
        service = action.service_function(kernel)
        if not action.in_session:
            return service(actor=caller.actor, **arguments)
        with kernel.db.platform() as session, session.begin():
            return service(session, actor=caller.actor, **arguments)

    return await run_in_threadpool(partial(act))


Failed = Callable[[NentangError], Awaitable[Response] | Response]


async def answer(
    request: Request,
    name: str,
    at: TenantInfo,
    /,
    *,
    done: Callable[[Any], Response],
    failed: Failed,
    rules: frozenset[str] = frozenset(),
    **arguments: Any,
) -> Response:
    """:func:`run` the act and answer the browser: ``done(result)`` (a redirect, a page), the refusal
    page with its reason for want of authority, or ``failed(error)`` for bad input (the form again).
    ``rules``: codes of refusals that are a rule of the units, not the caller's roles (a province's
    lock), answered by ``failed`` too, so the page does not blame the person's roles."""
    try:
        result = await run(request, name, at, **arguments)
    except PermissionDenied as exc:
        if exc.code in rules:
            page = failed(exc)
            return await page if inspect.isawaitable(page) else page
        return refusal(request, "permission", exc.message, status=403, values={"unit": at})
    except NentangError as exc:
        page = failed(exc)
        return await page if inspect.isawaitable(page) else page
    return done(result)
