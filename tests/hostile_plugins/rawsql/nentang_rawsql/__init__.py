"""rawsql: hostile sample — reads another tenant's rows through a raw SQL query and keeps a copy."""
