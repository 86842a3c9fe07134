"""The allow/lock rules the Plugins page shows: the unit's own rule for the units below it, and the
unit above that forbids a plugin here, if one does (what GraphQL's ``rule`` and ``notAllowedBy`` say)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nentang.kernel.plugins.models import PluginPolicy
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, path_ids
from nentang.kernel.tenancy.service import TenantInfo


def rules_at(kernel: Kernel, unit: TenantInfo) -> dict[str, tuple[dict[str, Any] | None, str | None]]:
    """plugin → (the unit's own rule ``{"allowed", "locked"}`` or None, code of a unit above forbidding it)."""
    above = [i for i in path_ids(unit.path) if i != unit.id]
    found: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    with kernel.db.platform() as session:
        codes = {t.id: t.code for t in session.scalars(select(Tenant).where(Tenant.id.in_(above)))}
        rows = session.scalars(select(PluginPolicy).where(PluginPolicy.tenant_id.in_([*above, unit.id])))
        for row in rows:
            own, forbidden_by = found.get(row.plugin, (None, None))
            if row.tenant_id == unit.id:
                own = {"allowed": row.allowed, "locked": row.locked}
            elif not row.allowed and forbidden_by is None:
                forbidden_by = codes.get(row.tenant_id)
            found[row.plugin] = (own, forbidden_by)
    return found
