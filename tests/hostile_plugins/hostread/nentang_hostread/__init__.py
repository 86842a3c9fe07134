"""hostread: hostile sample — looks for the host's files outside what the sandbox shows it."""
