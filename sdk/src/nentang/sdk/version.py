"""The SDK's version — the API version a plugin declares in its manifest's ``api`` range.

A module of its own so that the kernel can read it without importing the plugin facade.
"""

__version__ = "0.1.0"
