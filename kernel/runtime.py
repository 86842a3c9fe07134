"""The kernel as one value: built by :func:`create_kernel`, closed by :meth:`Kernel.close`.

Nothing here runs at import time and nothing is global: a test can build as many kernels as
it needs, each on its own database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data import migrate
from nentang.kernel.data.database import Database
from nentang.kernel.events.delivery import EventDispatcher
from nentang.kernel.events.runner import EventRunner
from nentang.kernel.identity.login import LoginService
from nentang.kernel.identity.oidc_login import OIDCLoginService
from nentang.kernel.identity.passwords import Passwords
from nentang.kernel.identity.sessions import SessionService
from nentang.kernel.identity.tokens import TokenService
from nentang.kernel.identity.users import UserService
from nentang.kernel.plugins.runtime import Plugins
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.service import TenantService
from nentang.kernel.tenancy.serving import ServingTenants


@final
@dataclass(frozen=True, slots=True)
class Readiness:
    database: bool
    migrations: bool
    #: Production mode: the registry is where configured and every approved plugin installed runs.
    plugins: bool = True
    #: Why the kernel is not ready, for operators; empty when ready.
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.database and self.migrations and self.plugins and not self.detail


@final
class Kernel:
    __slots__ = (
        "_scripts",
        "_scripts_generation",
        "_start_error",
        "_started",
        "audit",
        "authz",
        "db",
        "event_runner",
        "events",
        "login",
        "oidc",
        "passwords",
        "plugins",
        "serving",
        "sessions",
        "settings",
        "tenants",
        "tokens",
        "users",
        "watcher",
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.audit = AuditLog()
        self.tenants = TenantService(self.db, self.audit)
        self.watcher = ChangeWatcher(self.db.app_engine, listen_url=_listen_url(settings))
        self.db.on_commit(self.watcher.committed_here)
        #: Whether a tenant serves, per worker, re-read after any change to the tree.
        self.serving = ServingTenants(self.tenants)
        self.watcher.subscribe(topics.TENANCY, self.serving.forget)
        self.authz = Authorizer(self.db, self.audit, self.watcher)
        identity = settings.identity
        self.passwords = Passwords(identity.password_hashing)
        self.users = UserService(self.db, self.audit, self.authz, self.passwords)
        self.login = LoginService(self.db, self.audit, self.passwords, identity)
        self.sessions = SessionService(self.db, identity)
        self.tokens = TokenService(self.db, self.audit, self.authz, identity, self.watcher)
        #: OIDC sign-in, or ``None`` when no issuer is configured (the routes then answer 404).
        self.oidc = OIDCLoginService(self.db, self.audit, identity.oidc) if identity.oidc is not None else None
        self.plugins = Plugins(settings=settings, db=self.db, authz=self.authz, audit=self.audit, watcher=self.watcher)
        self.events = EventDispatcher(
            db=self.db,
            tenants=self.tenants,
            dispatcher=self.plugins.dispatcher,
            budget=self.plugins.budget,
            retry_delay=settings.events_retry_delay,
        )
        self.event_runner = EventRunner(self.events, self.db)
        self._scripts = migrate.scripts(settings)
        self._scripts_generation = -1  # before start's scan: a probe then reads them again
        self._started = False
        self._start_error = ""

    def start(self) -> None:
        """Load what every request needs and start hearing about other workers' changes.

        Needs a migrated database; called by the server's lifespan (and by tests), not by
        one-shot CLI commands.
        """
        if self._started:
            return
        self.plugins.secrets.require()  # production serves only with a key for plugin secrets
        self.authz.load()
        self.plugins.scan()
        # The scripts parsed at creation came from the same installed packages this scan just
        # registered: no need for readiness to parse them again until the plugins change.
        self._scripts_generation = self.plugins.host.generation
        self.watcher.start()
        if self.settings.events_background:
            self.event_runner.start()
        self._started = True

    def upgrade_database(self) -> set[str]:
        """Apply every pending migration (kernel and plugin branches), then the kernel's
        declared permissions and role templates."""
        heads = migrate.upgrade(self.db.owner_engine, self.settings)
        with self.db.platform() as session, session.begin():
            self.authz.sync_declarations(session)
        return heads

    def start_or_report(self) -> None:
        """Start, or remember why not so that readiness says it (the process stays up for probes)."""
        try:
            self.start()
        except Exception as exc:
            self._start_error = f"kernel did not start: {type(exc).__name__}: {exc}"[:500]
            structlog.get_logger("nentang.kernel").error("kernel.start_failed", error=self._start_error)

    def pending_migrations(self) -> set[str]:
        return migrate.pending_heads(self.db.owner_engine, self._scripts)

    def readiness(self) -> Readiness:
        try:
            with self.db.app_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not reachable" to a probe
            return Readiness(database=False, migrations=False, detail=f"database unreachable: {type(exc).__name__}")
        try:
            pending = self._pending_migrations()
        except Exception as exc:
            return Readiness(database=True, migrations=False, detail=f"cannot read migrations: {type(exc).__name__}")
        if pending:
            return Readiness(
                database=True, migrations=False, detail=f"migrations not at head: pending {sorted(pending)}"
            )
        if not self._started:
            return Readiness(database=True, migrations=True, detail=self._start_error or "kernel not started")
        if self.settings.mode == "production":
            problem = self.plugins.host.approval_problem()
            if problem is not None:
                return Readiness(database=True, migrations=True, plugins=False, detail=problem)
        return Readiness(database=True, migrations=True)

    def _pending_migrations(self) -> set[str]:
        """Heads not yet applied. The scripts are parsed again when this worker's plugins changed
        (a rescan registered a plugin installed live: its branch now counts) or when the database
        holds a revision the parsed scripts do not know (``db upgrade`` ran from a newer install);
        otherwise the scripts parsed earlier serve, and a probe costs one small query."""
        generation = self.plugins.host.generation
        if generation != self._scripts_generation:
            self._scripts, self._scripts_generation = migrate.scripts(self.settings), generation
        try:
            return migrate.pending_heads(self.db.app_engine, self._scripts)
        except Exception:  # an applied revision unknown to the parsed scripts
            self._scripts = migrate.scripts(self.settings)
            return migrate.pending_heads(self.db.app_engine, self._scripts)

    def close(self) -> None:
        self.event_runner.stop()
        self.watcher.stop()
        self.plugins.watchdog.close()
        self.authz.close()
        if self.oidc is not None:
            self.oidc.close()
        self.db.dispose()


def create_kernel(settings: Settings) -> Kernel:
    return Kernel(settings)


def _listen_url(settings: Settings) -> str | None:
    """A libpq URL for the LISTEN connection (PostgreSQL only)."""
    if settings.is_sqlite:
        return None
    url = make_url(settings.app_database_url or settings.database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
