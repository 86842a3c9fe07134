"""The one error hierarchy of NenTang, shared by the kernel and plugins.

Every error carries a stable machine ``code`` (``area.reason``) that the HTTP and GraphQL
layers return to callers, and a message that names what was involved and how to fix it.
Input is never checked with ``assert``; a bad input raises one of these and changes nothing.

::

    NentangError                      code "nentang.error"
    ├── ValidationFailed              bad input: a field, a shape, a rule of the domain
    │   ├── TenantRuleViolated        a tenant operation breaks the tree's rules (cycle, kind)
    │   └── ScopeViolation            a data session asked to read or write outside its scope
    │       └── CrossTenantWrite      a row of another tenant given to a tenant-bound session
    ├── NotFound
    │   └── TenantNotFound
    ├── Conflict
    │   └── TenantCodeTaken
    ├── TenantUnavailable             the tenant (or an ancestor) is suspended
    ├── PermissionDenied
    └── IntegrityError                stored data failed a check (e.g. a broken audit chain)
"""

from __future__ import annotations

from typing import ClassVar


class NentangError(Exception):
    """Base of every NenTang error; ``code`` is stable and meant for machines."""

    code: ClassVar[str] = "nentang.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement of the class code

    def __str__(self) -> str:
        return self.message


class ValidationFailed(NentangError):
    code = "validation.failed"


class TenantRuleViolated(ValidationFailed):
    code = "tenant.rule_violated"


class ScopeViolation(ValidationFailed):
    code = "data.scope_violation"


class CrossTenantWrite(ScopeViolation):
    code = "data.cross_tenant_write"


class NotFound(NentangError):
    code = "not_found"


class TenantNotFound(NotFound):
    code = "tenant.not_found"


class Conflict(NentangError):
    code = "conflict"


class TenantCodeTaken(Conflict):
    code = "tenant.code_taken"


class TenantUnavailable(NentangError):
    code = "tenant.unavailable"


class PermissionDenied(NentangError):
    code = "permission.denied"


class IntegrityError(NentangError):
    code = "integrity.failed"


__all__ = [
    "Conflict",
    "CrossTenantWrite",
    "IntegrityError",
    "NentangError",
    "NotFound",
    "PermissionDenied",
    "ScopeViolation",
    "TenantCodeTaken",
    "TenantNotFound",
    "TenantRuleViolated",
    "TenantUnavailable",
    "ValidationFailed",
]
