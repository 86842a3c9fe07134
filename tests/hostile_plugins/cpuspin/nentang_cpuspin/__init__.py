"""cpuspin: hostile sample — spins the CPU when an event arrives."""
