"""Alembic environment: runs on the connection the kernel hands over (never reads a URL)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run NenTang migrations with `nentang db upgrade`, which provides the connection")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
