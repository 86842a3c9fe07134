"""Auditing a valid credential refused because its tenant does not serve (suspended, or under a
suspended tenant).

It is a security event — someone keeps using an account or an integration of a paused unit — so
it goes into the credential's tenant's audit chain: the token's tenant, or the user's home tenant.
A client retrying in a loop must not flood that chain, so each principal is recorded at most once
per ``interval`` per worker (the same rule as refused API tokens).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, final

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.audit_throttle import AuditThrottle
from nentang.kernel.identity.timeutil import now

ACTION: Final = "auth.tenant_suspended"


@final
class SuspendedRefusals:
    def __init__(self, db: Database, audit: AuditLog, interval: timedelta = timedelta(minutes=1)) -> None:
        self._db = db
        self._audit = audit
        self._throttle = AuditThrottle(interval)

    def record(self, *, actor: Actor, tenant_id: int, suspended: str, method: str, path: str) -> bool:
        """Audit the refusal unless this principal's was audited within the interval (blocking:
        call from a worker thread). Returns whether an entry was written."""
        principal = str(actor)
        if not self._throttle.due(principal, now()):
            return False
        detail = {"suspended": suspended, "method": method, "path": path}
        with self._db.platform() as session, session.begin():
            self._audit.append(
                session, tenant_id=tenant_id, actor=actor, action=ACTION, target=principal, detail=detail
            )
        return True
