"""The kernel's handle on its database: two engines and scoped session factories."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final, final

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from nentang.kernel.data.engines import create_app_engine, create_owner_engine
from nentang.kernel.data.inline_reads import InlineReads
from nentang.kernel.data.plugin_guard import install_plugin_guard
from nentang.kernel.data.scope import DataScope, bind_scope, install_scope_guards
from nentang.kernel.data.sqlite_begin import session_engine
from nentang.kernel.settings import Settings

#: Session -> the changes it noted (kernel-side: a plugin's session.info must not announce changes).
_CHANGES: Final[weakref.WeakKeyDictionary[Session, list[Any]]] = weakref.WeakKeyDictionary()


def record_change(session: Session, change: object) -> None:
    """Note a change of shared state, delivered to :meth:`Database.on_commit` listeners on commit."""
    _CHANGES.setdefault(session, []).append(change)


@final
class Database:
    """Engines for the schema owner (migrations) and the application, and session factories.

    Every session comes from :meth:`tenant`, :meth:`subtree` or :meth:`platform`, so every
    session has a scope and the guards in ``scope.py`` apply to it.
    """

    __slots__ = ("_commit_listeners", "_inline_reads", "_sessions", "app_engine", "owner_engine", "settings")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.owner_engine: Engine = create_owner_engine(settings.database_url)
        if settings.is_sqlite:
            self.app_engine: Engine = self.owner_engine
        else:
            self.app_engine = create_app_engine(settings.database_url, settings.app_database_url, settings.app_role)
        bind = session_engine(self.app_engine) if settings.is_sqlite else self.app_engine
        self._sessions = sessionmaker(bind, expire_on_commit=False)
        install_scope_guards(self._sessions)
        install_plugin_guard(self.app_engine, self._sessions)
        self._commit_listeners: list[Callable[[list[Any]], None]] = []
        event.listen(self._sessions, "after_commit", self._deliver_committed_changes)
        event.listen(self._sessions, "after_rollback", lambda session: _CHANGES.pop(session, None))
        self._inline_reads = InlineReads(self.app_engine, self._sessions) if settings.is_sqlite else None

    def on_commit(self, listener: Callable[[list[Any]], None]) -> None:
        """Call ``listener`` with what :func:`record_change` noted, once that transaction committed.

        This is how the worker that made a change sees it at once, before any notification
        from the database comes back.
        """
        self._commit_listeners.append(listener)

    def _deliver_committed_changes(self, session: Session) -> None:
        changes = _CHANGES.pop(session, None)
        if changes:
            for listener in self._commit_listeners:
                listener(changes)

    @property
    def dialect(self) -> str:
        return self.app_engine.dialect.name

    @property
    def reads_in_process(self) -> bool:
        """Whether a :func:`~nentang.kernel.data.sqlite_begin.reading_only` session's work is
        in-process work that never waits: the embedded SQLite database, in WAL mode, where a
        deferred transaction reads its snapshot without waiting for writers. Such work can run on
        the event loop; handing it to a worker thread costs more than the read itself."""
        return self._inline_reads is not None

    def inline_read(self, tenant_id: int) -> Session:
        """A reading-only :meth:`tenant` session for work that runs to completion on this thread
        without yielding (see ``inline_reads.py``); only where :attr:`reads_in_process`."""
        if self._inline_reads is None:
            raise RuntimeError("inline reads are for the embedded database; use tenant() in a worker thread")
        return self._inline_reads.tenant(tenant_id)

    def tenant(self, tenant_id: int) -> Session:
        """A session that reads and writes the rows of one tenant only."""
        return self._open(DataScope.tenant(tenant_id))

    def subtree(self, root_id: int, tenant_ids: frozenset[int]) -> Session:
        """A read-only session over several tenants (a roll-up); the caller authorises it."""
        return self._open(DataScope.subtree(root_id, tenant_ids))

    def platform(self) -> Session:
        """A session for the kernel's platform tables; tenant-owned tables are refused."""
        return self._open(DataScope.platform())

    def _open(self, scope: DataScope) -> Session:
        session = self._sessions()
        bind_scope(session, scope)
        return session

    def dispose(self) -> None:
        if self._inline_reads is not None:
            self._inline_reads.close()
        self.app_engine.dispose()
        if self.owner_engine is not self.app_engine:
            self.owner_engine.dispose()
