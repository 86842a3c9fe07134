"""The Alembic branch of journal (found through the ``nentang.migrations`` entry point)."""
