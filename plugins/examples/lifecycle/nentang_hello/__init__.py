"""hello — a NenTang example plugin: a greeting that each commune configures for itself.

It shows the lifecycle extension point: ``nentang_plugin_enable`` checks the tenant's settings
(and may refuse them), ``nentang_plugin_disable`` tidies up, and code running later for the tenant
reads the same settings through ``ctx.settings``. See ``README.md``.
"""
