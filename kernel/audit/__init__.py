"""Append-only, per-tenant, hash-chained audit log."""

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.audit.models import AuditEntry, AuditHead
from nentang.kernel.audit.verify import ChainReport, verify_chains

__all__ = ["AuditEntry", "AuditHead", "AuditLog", "ChainReport", "verify_chains"]
