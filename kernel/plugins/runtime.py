"""The plugin machinery of one worker, assembled: host, dispatcher, activation, error budget.

Rescanning reaches every worker: :meth:`Plugins.rescan` scans in this process and bumps the
:data:`RESCAN` topic, and every other worker's change watcher then scans in a background thread
(the watcher's subscribers must stay cheap). It changes what every worker runs, so it is audited
on the central tenant, whoever asks (the command line or the admin mutation). Upgrades of a plugin
already registered are never swapped in process; a rolling restart of the workers applies them
(``docs/plugins-operations.md``).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Final, final

import structlog
from sqlalchemy import select

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.activation import ActivationService
from nentang.kernel.plugins.dispatch import Dispatcher, activation_cache
from nentang.kernel.plugins.host import PluginHost, ScanReport
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.plugins.secrets import SecretBox
from nentang.kernel.plugins.watchdog import Watchdog
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import Tenant
from nentang.sdk.version import __version__ as sdk_version

#: Installed plugins may have changed: every worker scans again. Key: the requesting process's token.
RESCAN: Final = "plugins.rescan"


@final
class Plugins:
    def __init__(
        self, *, settings: Settings, db: Database, authz: Authorizer, audit: AuditLog, watcher: ChangeWatcher
    ) -> None:
        self.host = PluginHost(
            mode=settings.mode,
            registry_path=settings.registry_path,
            sdk_version=sdk_version,
            search_path=list(settings.plugin_path) if settings.plugin_path is not None else None,
        )
        #: Seals plugin secrets at rest; a missing (production) or malformed key stops start-up here.
        self.secrets = SecretBox.for_settings(settings)
        self.budget = ErrorBudget(db, audit, budget=settings.plugin_error_budget)
        #: Deadlines of every plugin call, and the threads plugin resolvers run in.
        self.watchdog = Watchdog(settings.plugin_calls)
        self.dispatcher = Dispatcher(
            db=db,
            host=self.host,
            authz=authz,
            audit=audit,
            activations=activation_cache(db, self.secrets),
            budget=self.budget,
            watchdog=self.watchdog,
        )
        self.activation = ActivationService(
            db=db, host=self.host, dispatcher=self.dispatcher, authz=authz, audit=audit, secrets=self.secrets
        )
        self._db = db
        self._audit = audit
        #: Keys of the rescans this process asked for (it has scanned already; it ignores their echo).
        self._own_requests: set[str] = set()
        self._rescan_lock = threading.Lock()
        self._rescan_pending = False
        self._log = structlog.get_logger("nentang.plugins")
        watcher.subscribe(topics.ACTIVATION, self._on_activation_change)
        watcher.subscribe(RESCAN, self._on_rescan_requested)

    def _on_activation_change(self, key: str | None) -> None:
        self.dispatcher.activations.evict(int(key) if key else None)

    def scan(self) -> ScanReport:
        """Register installed plugins not registered yet, in this process (start-up, tests)."""
        return self.host.scan()

    def rescan(self, actor: Actor) -> ScanReport:
        """Scan here, then ask every other worker to scan too; returns this process's report.

        What ``nentang plugin rescan`` and the admin mutation call (after checking the caller), so
        both leave the same ``plugin.rescan`` entry on the central tenant, committed with the
        request to the other workers. Other workers hear of it through the change watcher
        (LISTEN/NOTIFY on PostgreSQL, the version poll on SQLite) and scan within about a second.
        A plugin upgraded on disk is reported as unchanged: it needs a rolling restart. With no
        tenant yet (a platform being set up) there is no chain to write to, and no tenant for a
        plugin to change anything at: the rescan is then not audited.
        """
        report = self.scan()
        key = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._own_requests.add(key)
        with self._db.platform() as session, session.begin():
            bump(session, RESCAN, key)
            central = session.scalar(select(Tenant.id).where(Tenant.parent_id.is_(None)))
            if central is not None:
                self._audit.append(
                    session,
                    tenant_id=central,
                    actor=actor,
                    action="plugin.rescan",
                    target="plugins",
                    detail={"registered": list(report.registered), "quarantined": list(report.quarantined)},
                )
        return report

    def _on_rescan_requested(self, key: str | None) -> None:
        if key is not None and key in self._own_requests:
            return
        with self._rescan_lock:
            if self._rescan_pending:  # a scan is about to start and will see the same files
                return
            self._rescan_pending = True
        threading.Thread(target=self._scan_in_background, name="nentang-plugin-rescan", daemon=True).start()

    def _scan_in_background(self) -> None:
        with self._rescan_lock:
            self._rescan_pending = False  # a request arriving from now on gets a scan of its own
        try:
            report = self.scan()
        except Exception as exc:  # e.g. an unreadable registry.toml: report it, keep serving
            self._log.error("plugin.rescan_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._log.info(
            "plugin.rescanned",
            registered=list(report.registered),
            quarantined=list(report.quarantined),
            unchanged=len(report.unchanged),
        )

    def versions(self) -> dict[str, str]:
        """The plugins this worker runs, by name, with the version it imported (sorted)."""
        loaded = dict(self.host.plugins)  # one atomic copy: a rescan may add entries meanwhile
        return {name: loaded[name].version for name in sorted(loaded)}
