"""Authorisation: casbin decides over roles → permissions; every principal's grants are held per
worker in a compact table, read at start and patched or rebuilt on change notifications."""

from nentang.kernel.authz.service import Authorizer

__all__ = ["Authorizer"]
