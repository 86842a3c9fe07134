"""netcall: hostile sample — opens a socket to a host it never declared."""
