"""spawner: hostile sample — starts a process."""
