"""NenTang SDK — the one stable surface a NenTang plugin imports.

Contract:

- This facade is for plugins. The kernel never imports ``nentang.sdk`` itself; it may use
  the SDK's public submodules (``errors``, ``tables``, ``migrations``), which define the
  contract the kernel implements.
- Everything a plugin needs is listed in ``__all__``; nothing else is public.
- A name is removed only after a release that warns about it, naming the replacement;
  renamed names stay available as aliases until then.
- The SDK's version is the API version a plugin declares in its manifest.
"""

from nentang.sdk._markers import hookimpl
from nentang.sdk.context import TenantContext, TenantRef
from nentang.sdk.errors import (
    Conflict,
    CrossTenantWrite,
    IntegrityError,
    NentangError,
    NotFound,
    PermissionDenied,
    ScopeViolation,
    TenantCodeTaken,
    TenantNotFound,
    TenantRuleViolated,
    TenantUnavailable,
    ValidationFailed,
)
from nentang.sdk.events import Event
from nentang.sdk.graphql import GraphQLContribution, GraphQLRequest, graphql_metadata, graphql_request
from nentang.sdk.manifest import Manifest
from nentang.sdk.migrations import enable_tenant_isolation
from nentang.sdk.tables import TenantOwned

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "CrossTenantWrite",
    "Event",
    "GraphQLContribution",
    "GraphQLRequest",
    "IntegrityError",
    "Manifest",
    "NentangError",
    "NotFound",
    "PermissionDenied",
    "ScopeViolation",
    "TenantCodeTaken",
    "TenantContext",
    "TenantNotFound",
    "TenantOwned",
    "TenantRef",
    "TenantRuleViolated",
    "TenantUnavailable",
    "ValidationFailed",
    "__version__",
    "enable_tenant_isolation",
    "graphql_metadata",
    "graphql_request",
    "hookimpl",
]
