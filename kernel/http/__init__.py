"""HTTP: the Starlette application and its middleware."""
