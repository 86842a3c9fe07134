"""The Alembic branch of noticeboard (version files; the entry point ``nentang.migrations`` names
this package). ``nentang db upgrade`` applies it with the kernel's own migrations."""
