"""reacharound: hostile sample — reaches around the import policy."""
