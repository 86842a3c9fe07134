"""sleeper: hostile sample — a mutation that never answers."""
