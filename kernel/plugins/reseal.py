"""Sealing every stored plugin secret with the current key: after an upgrade from plaintext rows,
and after a key rotation (``nentang plugin reseal``)."""

from __future__ import annotations

from sqlalchemy import select

from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import acting_for_tenant
from nentang.kernel.plugins import settings as plugin_settings
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.models import PluginActivation
from nentang.kernel.plugins.secrets import SecretBox
from nentang.kernel.tenancy.models import Tenant


def reseal_all(db: Database, host: PluginHost, box: SecretBox) -> tuple[int, list[str]]:
    """Seal plaintext secrets and re-seal old-key ones with ``box``'s first key, in one transaction.

    Returns how many activation rows changed and the plugins skipped because they are not
    registered on this worker (their schema, which says what is secret, is unknown here). A row
    whose secret no held key opens fails the whole run (``secrets.unreadable``): nothing changes.
    The plaintext is unchanged, so no worker's cache needs to hear of it.
    """
    changed = 0
    skipped: set[str] = set()
    with db.platform() as session, session.begin():
        tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
        for tenant_id in tenant_ids:
            with acting_for_tenant(session, tenant_id or 0):
                for row in session.scalars(select(PluginActivation)):
                    loaded = host.plugins.get(row.plugin)
                    if loaded is None:
                        skipped.add(row.plugin)
                        continue
                    schema = loaded.manifest.settings_schema
                    stored = plugin_settings.loads(row.settings)
                    if box.needs_resealing(schema, stored):
                        plain = box.open_secrets(stored)
                        row.settings = plugin_settings.dumps(box.seal_secrets(schema, plain))
                        changed += 1
    return changed, sorted(skipped)
