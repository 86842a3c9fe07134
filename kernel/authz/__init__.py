"""Authorisation: casbin decides over roles → permissions; grants on the tenant path are read
from the database per principal, cached per worker and invalidated by change notifications."""

from nentang.kernel.authz.service import Authorizer

__all__ = ["Authorizer"]
