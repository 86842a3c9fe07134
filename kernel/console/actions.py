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

from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any, Final, final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from nentang.kernel.authz.permissions import TENANTS_CREATE, TENANTS_MANAGE
from nentang.kernel.console.pages import caller_in, console_of
from nentang.kernel.http.state import tenant_of
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import PermissionDenied


@final
@dataclass(frozen=True, slots=True)
class ConsoleAction:
    #: The console's name of the act (``unit.create``), also the ``action`` of a refusal's audit detail.
    name: str
    #: The GraphQL mutation field doing the same act.
    graphql: str
    #: The permission needed at the unit the act is aimed at.
    permission: str
    #: The service function, as a path from the kernel (``tenants.create`` is ``kernel.tenants.create``).
    service: str

    def service_function(self, kernel: Kernel) -> Any:
        return attrgetter(self.service)(kernel)


ACTIONS: Final = {
    action.name: action
    for action in (
        ConsoleAction("unit.create", "createTenant", TENANTS_CREATE, "tenants.create"),
        ConsoleAction("unit.suspend", "suspendTenant", TENANTS_MANAGE, "tenants.suspend"),
        ConsoleAction("unit.reactivate", "reactivateTenant", TENANTS_MANAGE, "tenants.reactivate"),
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
        try:
            console.kernel.authz.require(caller.principal, at.id, action.permission)
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
        return action.service_function(console.kernel)(actor=caller.actor, **arguments)

    return await run_in_threadpool(partial(act))
