"""Error budgets: a plugin whose hooks keep failing for a tenant is taken out of service there.

Failures are counted per worker, per (plugin, tenant), and reset by a success. When a count
reaches the budget the quarantine is written to the database (so every worker stops calling
the plugin for that tenant), audited on the tenant, and visible to administrators until an
administrator releases it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import final

import structlog
from sqlalchemy import delete

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.models import PluginQuarantine
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.sdk.context import TenantRef


@final
class ErrorBudget:
    def __init__(self, db: Database, audit: AuditLog, budget: int = 5) -> None:
        self._db = db
        self._audit = audit
        self.budget = budget
        self._failures: dict[tuple[str, int], int] = defaultdict(int)
        self._lock = threading.Lock()
        self._log = structlog.get_logger("nentang.plugins")

    def succeeded(self, plugin: str, tenant: TenantRef) -> None:
        self._failures.pop((plugin, tenant.id), None)

    def failed(self, plugin: str, tenant: TenantRef, error: BaseException) -> None:
        with self._lock:
            self._failures[(plugin, tenant.id)] += 1
            count = self._failures[(plugin, tenant.id)]
            if count < self.budget:
                return
            self._failures.pop((plugin, tenant.id), None)
        reason = f"{count} consecutive failures; last: {type(error).__name__}: {error}"[:1000]
        with self._db.platform() as session, session.begin():
            if session.get(PluginQuarantine, (tenant.id, plugin)) is None:
                session.add(PluginQuarantine(tenant_id=tenant.id, plugin=plugin, reason=reason))
                self._audit.append(
                    session,
                    tenant_id=tenant.id,
                    actor=Actor.system("plugins"),
                    action="plugin.quarantine",
                    target=plugin,
                    detail={"reason": reason},
                )
                bump(session, topics.ACTIVATION, str(tenant.id))
        self._log.error("plugin.quarantined_for_tenant", plugin=plugin, tenant=tenant.code, reason=reason)

    def release(self, plugin: str, tenant_id: int, actor: Actor) -> bool:
        """Put a quarantined plugin back in service for a tenant (after a fix)."""
        with self._db.platform() as session, session.begin():
            removed = session.execute(
                delete(PluginQuarantine).where(
                    PluginQuarantine.tenant_id == tenant_id, PluginQuarantine.plugin == plugin
                )
            ).rowcount
            if removed:
                self._audit.append(
                    session, tenant_id=tenant_id, actor=actor, action="plugin.release", target=plugin, detail={}
                )
                bump(session, topics.ACTIVATION, str(tenant_id))
        return bool(removed)
