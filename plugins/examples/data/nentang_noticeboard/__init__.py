"""noticeboard — a NenTang example plugin: the notices a commune posts for its residents.

It shows the data extension point: a table derived from ``TenantOwned`` (every row belongs to one
tenant), created by the plugin's own Alembic branch, written in the enable hook and read back
through the tenant-bound session. See ``README.md``.
"""
