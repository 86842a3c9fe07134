"""The plugin machinery of one worker, assembled: host, dispatcher, activation, error budget."""

from __future__ import annotations

from typing import final

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.plugins.activation import ActivationService
from nentang.kernel.plugins.dispatch import Dispatcher, activation_cache
from nentang.kernel.plugins.host import PluginHost, ScanReport
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.kernel.settings import Settings
from nentang.sdk import __version__ as sdk_version


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
        self.budget = ErrorBudget(db, audit, budget=settings.plugin_error_budget)
        self.dispatcher = Dispatcher(
            db=db, host=self.host, authz=authz, audit=audit, activations=activation_cache(db), budget=self.budget
        )
        self.activation = ActivationService(db=db, host=self.host, dispatcher=self.dispatcher, authz=authz, audit=audit)
        watcher.subscribe(topics.ACTIVATION, self._on_activation_change)

    def _on_activation_change(self, key: str | None) -> None:
        self.dispatcher.activations.evict(int(key) if key else None)

    def scan(self) -> ScanReport:
        """Register installed plugins not registered yet (start-up, and ``nentang plugin rescan``)."""
        return self.host.scan()
