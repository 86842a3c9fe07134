"""Telling every worker process that shared state changed: a version counter per topic in
the database (the fallback every worker polls) and, on PostgreSQL, LISTEN/NOTIFY (the fast path)."""
