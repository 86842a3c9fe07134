"""Data access: engines, and sessions bound to a tenant scope (see ``scope.py``)."""

from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import DataScope

__all__ = ["DataScope", "Database"]
