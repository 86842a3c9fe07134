"""goodnotes: a short note per tenant, written when the plugin is enabled and on each event."""
