"""Domain events: written to an outbox in the transaction that caused them, delivered at least
once, in order per tenant, to the plugins enabled for that tenant."""
