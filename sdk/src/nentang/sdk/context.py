"""What a plugin's hook receives: a context already bound to one tenant.

The kernel builds a :class:`TenantContext` for each call. Through it a plugin reads and writes
only its tenant's rows, checks the caller's permissions, emits events and writes audit entries
— and never sees another tenant's data or the platform's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class TenantRef:
    """The tenant a context is bound to (read-only facts, no handle on the kernel)."""

    id: int
    code: str
    name: str
    #: "central", "province", "commune" or "unit".
    kind: str
    #: Ids from the root down to this tenant.
    path: tuple[int, ...]


@runtime_checkable
class TenantContext(Protocol):
    """The tenant-bound services a plugin may use. Implemented by the kernel."""

    @property
    def tenant(self) -> TenantRef:
        """The tenant this call is for."""

    @property
    def plugin(self) -> str:
        """The name of the plugin being called (the owner of the settings and events below)."""

    @property
    def actor(self) -> str:
        """Who acts: "user:12", "token:7", or "system:<component>"."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """This plugin's settings for this tenant, validated against its settings schema."""

    @property
    def session(self) -> Session:
        """A data session bound to the tenant, inside the kernel's transaction for this call."""

    def has_permission(self, permission: str) -> bool:
        """Whether the actor holds ``permission`` at this tenant (a declared permission)."""

    def require_permission(self, permission: str) -> None:
        """Raise :class:`~nentang.sdk.errors.PermissionDenied` unless the actor holds it."""

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None) -> None:
        """Emit a domain event in the current transaction (delivered after commit)."""

    def audit(self, action: str, target: str, detail: Mapping[str, Any] | None = None) -> None:
        """Append an entry to the tenant's audit log in the current transaction."""

    def next_number(self, name: str) -> int:
        """The next number (1, 2, 3, ...) of this plugin's sequence ``name`` at this tenant.

        Race-free on every database: concurrent callers never get the same number, and a number
        is used only if the current transaction commits (a rollback gives it back), so numbers
        have no gaps. Each tenant, and each plugin, has its own sequences. ``name``: 1-64 lower-case
        letters, digits, ``.``, ``_`` or ``-``, starting with a letter (``sequence.bad_name``)."""
