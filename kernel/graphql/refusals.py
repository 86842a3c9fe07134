"""Which GraphQL refusals are security events, and where they are audited (``audit/refusals.py``).

- A signed-in caller or token refused a tenant — a token sent for another tenant
  (``tenant.mismatch``), a user naming a tenant where they hold no role (``tenant.forbidden``):
  ``graphql.tenant_refused`` in the caller's tenant and in the tenant named.
- A mutation field refused for want of authority (``permission.denied`` — a plugin's
  ``require_permission`` too — or ``authz.escalation``): ``graphql.refused`` in the caller's tenant,
  the request's and the one the act was aimed at (``audit.refusals.aimed_at``), unless the service
  that refused has audited it already.

The entries are written after the response is sent (a background task), so a refusal costs the
caller no extra latency; the throttle keeps a retrying client to one entry a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

from graphql import GraphQLError
from starlette.background import BackgroundTask

from nentang.kernel.audit.refusals import RefusalAudit, is_audited, target_of
from nentang.kernel.graphql import errors as codes
from nentang.kernel.graphql.errors import RequestError, original_of
from nentang.kernel.identity.caller import Caller
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import NentangError, PermissionDenied

TENANT_REFUSALS: Final = frozenset({codes.TENANT_MISMATCH, codes.TENANT_FORBIDDEN})
#: A caller lacking authority — not a rule of the data refusing (``authz.template_read_only``,
#: ``authz.last_admin``), which is an answer to bad input, not an attempt.
AUTHORITY_REFUSALS: Final = frozenset({"permission.denied", "authz.escalation"})


@final
class GraphQLRefusals:
    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._log = RefusalAudit(kernel.db, kernel.audit)

    def of_request(self, caller: Caller, refused: RequestError, named: str | None) -> BackgroundTask | None:
        """The audit of a request refused before execution, if it is one worth recording."""
        code = refused.errors[0]["extensions"]["code"] if refused.errors else None
        if not caller.authenticated or code not in TENANT_REFUSALS:
            return None
        return BackgroundTask(self._tenant_refused, caller, str(code), refused.errors[0]["message"], named)

    def of_mutation(self, caller: Caller, tenant: TenantInfo, errors: Sequence[GraphQLError]) -> BackgroundTask | None:
        refusals = []
        for error in errors:
            original = original_of(error)
            if (
                isinstance(original, PermissionDenied)
                and original.code in AUTHORITY_REFUSALS
                and not is_audited(original)
                and caller.authenticated
            ):
                field = str(error.path[0]) if error.path else "(document)"
                refusals.append((field, original))
        if not refusals:
            return None
        return BackgroundTask(self._mutation_refused, caller, tenant.id, refusals)

    def _tenant_refused(self, caller: Caller, code: str, message: str, named: str | None) -> None:
        target = None
        if named:
            try:
                target = self._kernel.tenants.get(named).id
            except NentangError:
                target = None  # a code that names no tenant: the caller's own tenant still hears of it
        self._log.record(
            actor=caller.actor,
            tenant_ids=(target,),
            action="graphql.tenant_refused",
            target=(named or "")[:64] or "(none)",
            code=code,
            detail={"reason": message},
        )

    def _mutation_refused(self, caller: Caller, tenant_id: int, refusals: list[tuple[str, PermissionDenied]]) -> None:
        for field, refusal in refusals:
            self._log.record(
                actor=caller.actor,
                tenant_ids=(tenant_id, target_of(refusal)),
                action="graphql.refused",
                target=field,
                code=refusal.code,
                detail={"reason": refusal.message},
            )
