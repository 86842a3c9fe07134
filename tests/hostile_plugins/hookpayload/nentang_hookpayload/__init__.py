"""hookpayload: hostile sample — reads the process environment and memory map, only inside its hooks."""
