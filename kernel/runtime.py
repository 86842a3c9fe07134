"""The kernel as one value: built by :func:`create_kernel`, closed by :meth:`Kernel.close`.

Nothing here runs at import time and nothing is global: a test can build as many kernels as
it needs, each on its own database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from sqlalchemy import text

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data import migrate
from nentang.kernel.data.database import Database
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.service import TenantService


@final
@dataclass(frozen=True, slots=True)
class Readiness:
    database: bool
    migrations: bool
    #: Why the kernel is not ready, for operators; empty when ready.
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.database and self.migrations


@final
class Kernel:
    __slots__ = ("_scripts", "audit", "db", "settings", "tenants")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.audit = AuditLog()
        self.tenants = TenantService(self.db, self.audit)
        self._scripts = migrate.scripts(settings)

    def upgrade_database(self) -> set[str]:
        """Apply every pending migration (kernel and plugin branches)."""
        return migrate.upgrade(self.db.owner_engine, self.settings)

    def pending_migrations(self) -> set[str]:
        return migrate.pending_heads(self.db.owner_engine, self._scripts)

    def readiness(self) -> Readiness:
        try:
            with self.db.app_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not reachable" to a probe
            return Readiness(database=False, migrations=False, detail=f"database unreachable: {type(exc).__name__}")
        try:
            pending = migrate.pending_heads(self.db.app_engine, self._scripts)
        except Exception as exc:
            return Readiness(database=True, migrations=False, detail=f"cannot read migrations: {type(exc).__name__}")
        if pending:
            return Readiness(
                database=True, migrations=False, detail=f"migrations not at head: pending {sorted(pending)}"
            )
        return Readiness(database=True, migrations=True)

    def close(self) -> None:
        self.db.dispose()


def create_kernel(settings: Settings) -> Kernel:
    return Kernel(settings)
