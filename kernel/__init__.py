"""NenTang kernel: tenancy, data isolation, audit, HTTP — everything else is a plugin.

Build one with :func:`nentang.kernel.app.create_kernel`; nothing happens at import time.
"""

__version__ = "0.1.0"
