"""Kernel settings: one frozen value passed to ``create_kernel``; read from the environment
only by the command-line entry point (:meth:`Settings.from_environ`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.sdk.errors import ValidationFailed

Mode = Literal["production", "development"]

#: The embedded default: one SQLite file under ./var/, nothing to install.
DEFAULT_DATABASE_URL = "sqlite:///var/nentang.db"
#: The PostgreSQL role the application runs as; it never bypasses row-level security.
DEFAULT_APP_ROLE = "nentang_app"
#: Accepted values of ``NENTANG_LOG_LEVEL`` (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Accepted values of boolean ``NENTANG_*`` switches (any case).
_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True, slots=True)
class Settings:
    #: SQLAlchemy URL of the database; migrations run as this URL's user (the schema owner).
    database_url: str = DEFAULT_DATABASE_URL
    #: PostgreSQL only: a URL that logs in directly as ``app_role``. When unset, the kernel
    #: connects with ``database_url`` and switches each connection to ``app_role``.
    app_database_url: str | None = None
    #: PostgreSQL only: the role requests run as (created by the kernel's first migration).
    app_role: str = DEFAULT_APP_ROLE
    #: ``production`` refuses unapproved plugins; ``development`` (demo, tests) warns.
    mode: Mode = "production"
    #: Structured logs as JSON lines (``True``) or as readable console lines.
    log_json: bool = True
    #: Log level name for the kernel's structured logs.
    log_level: str = "INFO"
    #: The approvals of the central review (production mode enables only what it lists).
    registry_path: Path = Path("registry.toml")
    #: Where to look for installed plugins (``None``: ``sys.path``, the normal case).
    plugin_path: tuple[str, ...] | None = None
    #: Consecutive hook failures of a plugin at a tenant before it is quarantined there.
    plugin_error_budget: int = 5
    #: Deadlines of plugin calls, the plugin threads, the worker's memory ceiling (``kernel/plugins/call_limits.py``).
    plugin_calls: PluginCallLimits = field(default_factory=PluginCallLimits)
    #: Extra Alembic version locations (plugin migration branches not yet discovered by entry points).
    extra_migration_locations: tuple[str, ...] = field(default_factory=tuple)
    #: Password cost, login throttling, web sessions and their cookie (``kernel/identity/config.py``).
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    #: GraphQL limits and persisted queries (``kernel/graphql/config.py``).
    graphql: GraphQLSettings = field(default_factory=GraphQLSettings)
    #: Deliver outbox events from a background thread of each started kernel. Off for a kernel
    #: built in code (tests and scripts call ``kernel.events.deliver_batch``); the server's
    #: environment turns it on unless ``NENTANG_EVENTS_BACKGROUND=false``.
    events_background: bool = False
    #: Seconds before an event whose delivery had a plugin failure is offered again (doubled per
    #: failed round, at most five minutes); the tenant's later events wait meanwhile.
    events_retry_delay: float = 1.0
    #: Fernet keys (comma-separated, the first seals) for plugin secrets at rest; required in
    #: production. Unset in development: a key file in the instance folder (``plugins/secrets.py``).
    secrets_key: str | None = field(default=None, repr=False)
    #: Development only: where the generated key lives (``None``: beside the SQLite database, else ``var/``).
    secrets_key_file: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``NENTANG_*`` variables; unknown values fail with the variable's name."""
        mode = environ.get("NENTANG_MODE", "production")
        if mode not in ("production", "development"):
            raise ValidationFailed(f"NENTANG_MODE must be 'production' or 'development', not {mode!r}")
        log_format = environ.get("NENTANG_LOG_FORMAT", "json")
        if log_format not in ("json", "console"):
            raise ValidationFailed(f"NENTANG_LOG_FORMAT must be 'json' or 'console', not {log_format!r}")
        raw_level = environ.get("NENTANG_LOG_LEVEL", "INFO")
        log_level = raw_level.upper()
        if log_level not in LOG_LEVELS:
            raise ValidationFailed(f"NENTANG_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {raw_level!r}")
        raw_events = environ.get("NENTANG_EVENTS_BACKGROUND", "true").strip().lower()
        if raw_events not in _FLAGS:
            raise ValidationFailed(f"NENTANG_EVENTS_BACKGROUND must be 'true' or 'false', not {raw_events!r}")
        return cls(
            database_url=environ.get("NENTANG_DATABASE_URL", DEFAULT_DATABASE_URL),
            app_database_url=environ.get("NENTANG_APP_DATABASE_URL") or None,
            app_role=environ.get("NENTANG_APP_ROLE", DEFAULT_APP_ROLE),
            registry_path=_registry_path(environ.get("NENTANG_REGISTRY")),
            mode=mode,  # type: ignore[arg-type]
            log_json=log_format == "json",
            log_level=log_level,
            identity=IdentitySettings.from_environ(environ),
            graphql=GraphQLSettings.from_environ(environ),
            plugin_calls=PluginCallLimits.from_environ(environ),
            events_background=_FLAGS[raw_events],
            secrets_key=environ.get("NENTANG_SECRETS_KEY") or None,
        )


def _registry_path(raw: str | None) -> Path:
    """Where the registry of approvals is, resolved once when the settings are read: a command that
    later changes directory still reads the same file. (``nentang serve`` in production mode
    insists that it comes from ``NENTANG_REGISTRY``.)"""
    return Path((raw or "registry.toml").strip() or "registry.toml").expanduser().resolve()


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL (``None`` for in-memory or non-SQLite URLs)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url.endswith(":memory:"):
        return None
    return Path(database_url[len(prefix) :])
