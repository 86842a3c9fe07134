"""Plugin lifecycle: discover → check manifest and approval (before import) → register with
pluggy → activate per tenant as data → dispatch hooks only to plugins enabled for the tenant."""
