"""The Alembic branch of feedback (found through the ``nentang.migrations`` entry point)."""
