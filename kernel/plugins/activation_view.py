"""How each plugin stands at one tenant, as the admin surfaces show it (GraphQL, the command line).

Separate from the service that changes activations because reading needs none of its collaborators
(authorizer, dispatcher, audit log): only the activation rows, the quarantines and what this worker
has registered. Secrets in settings are always masked here; nothing on this side ever returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, final

from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.data.scope import acting_for_tenant
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.models import PluginActivation, PluginQuarantine
from nentang.kernel.tenancy.models import Tenant, path_ids


@final
@dataclass(frozen=True, slots=True)
class ActivationView:
    plugin: str
    tenant: str
    enabled: bool
    #: Settings with secrets masked.
    settings: Mapping[str, Any]
    version: str
    #: Code of the tenant whose lock keeps it on here, if any.
    locked_by: str | None
    updated_by: str
    updated_at: datetime | None
    #: Why it is out of service here, if it is.
    quarantined: str | None = None


def activation_views(session: Session, host: PluginHost, tenant: Tenant, tenant_code: str) -> list[ActivationView]:
    """Every plugin registered on this worker or ever activated at ``tenant``, by name (settings masked)."""
    tenant_id = tenant.id or 0
    quarantines = {
        q.plugin: q.reason
        for q in session.scalars(select(PluginQuarantine).where(PluginQuarantine.tenant_id == tenant_id))
    }
    with acting_for_tenant(session, tenant_id):
        rows = {r.plugin: r for r in session.scalars(select(PluginActivation))}
    lockers = {t.id: t.code for t in session.scalars(select(Tenant).where(Tenant.id.in_(path_ids(tenant.path))))}
    views = []
    for name in sorted(host.plugins.keys() | rows.keys()):
        row = rows.get(name)
        loaded = host.plugins.get(name)
        schema = loaded.manifest.settings_schema if loaded else {}
        values = plugin_settings.loads(row.settings) if row else {}
        views.append(
            ActivationView(
                plugin=name,
                tenant=tenant_code,
                enabled=bool(row and row.enabled),
                settings=plugin_settings.masked(schema, values)
                if loaded
                else {k: plugin_settings.MASK for k in values},
                version=row.version if row else (loaded.version if loaded else ""),
                locked_by=lockers.get(row.locked_by) if row and row.locked_by else None,
                updated_by=row.updated_by if row else "",
                updated_at=row.updated_at if row else None,
                quarantined=quarantines.get(name)
                or (host.quarantined[name].reason if name in host.quarantined else None),
            )
        )
    return views
