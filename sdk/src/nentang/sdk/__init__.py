"""NenTang SDK — the one stable surface a NenTang plugin imports.

Contract:

- **For plugins only.** A plugin (and its tests, with :mod:`nentang.sdk.testing`) imports from
  ``nentang.sdk`` and nothing of the kernel. The kernel never imports this facade; it uses the
  SDK's public submodules (``errors``, ``tables``, ``migrations``, ``hookspecs``, ...), which
  define the contract it implements. Nothing here reaches the kernel, a request global or a whole
  third-party package.
- **Everything a plugin needs is in** ``__all__``, sorted; nothing else is public. The hooks a
  plugin may implement are documented in :mod:`nentang.sdk.hookspecs`.
- **Stable names.** A name is removed only in the release its deprecation warning announced (a
  :class:`NentangDeprecationWarning` naming the replacement, see :mod:`nentang.sdk.deprecated`);
  a renamed name stays available as an alias until then.
- **Versions.** The SDK's version is the API version a plugin declares in its manifest (``api``).
  The kernel checks that range *before* it imports a plugin; :func:`require_sdk` offers the same
  check to code that runs without the kernel. See ``docs/sdk-compatibility.md``.
"""

from nentang.sdk import deprecated as _deprecated
from nentang.sdk._markers import hookimpl
from nentang.sdk._require import require_sdk
from nentang.sdk.console import ConsolePage, ConsoleRedirect, ConsoleRequest, ConsoleView
from nentang.sdk.context import TenantContext, TenantRef
from nentang.sdk.deprecated import NentangDeprecationWarning
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
from nentang.sdk.graphql import GraphQLContribution, GraphQLRequest, batch_resolver, graphql_metadata, graphql_request
from nentang.sdk.manifest import Manifest
from nentang.sdk.migrations import enable_tenant_isolation
from nentang.sdk.settings import check_settings_schema, is_secret_setting, settings_defaults, validate_settings
from nentang.sdk.tables import TenantOwned
from nentang.sdk.version import __version__

__all__ = [
    "Conflict",
    "ConsolePage",
    "ConsoleRedirect",
    "ConsoleRequest",
    "ConsoleView",
    "CrossTenantWrite",
    "Event",
    "GraphQLContribution",
    "GraphQLRequest",
    "IntegrityError",
    "Manifest",
    "NentangDeprecationWarning",
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
    "batch_resolver",
    "check_settings_schema",
    "enable_tenant_isolation",
    "graphql_metadata",
    "graphql_request",
    "hookimpl",
    "is_secret_setting",
    "require_sdk",
    "settings_defaults",
    "validate_settings",
]

#: Public objects that keep the module they are defined in: dataclasses and models whose
#: annotations are resolved against their own module (``typing.get_type_hints``, pydantic).
_KEEP_MODULE = frozenset(
    {
        "ConsolePage",
        "ConsoleRedirect",
        "ConsoleView",
        "Event",
        "GraphQLContribution",
        "Manifest",
        "TenantOwned",
        "TenantRef",
    }
)

for _name in __all__:
    _obj = globals()[_name]
    if _name not in _KEEP_MODULE and (isinstance(_obj, type) or (callable(_obj) and hasattr(_obj, "__code__"))):
        _obj.__module__ = __name__  # reprs and tracebacks show the public path, as httpx does
del _name, _obj


def __getattr__(name: str) -> object:
    """Old names kept as aliases after a rename (:data:`nentang.sdk.deprecated.ALIASES`): they warn
    and answer with the new object until the release that removes them."""
    alias = _deprecated.ALIASES.get(name)
    if alias is None:
        raise AttributeError(f"module 'nentang.sdk' has no attribute {name!r}")
    new, category = alias
    _deprecated.warn_deprecated(f"nentang.sdk.{name}", replacement=f"nentang.sdk.{new}", category=category)
    return globals()[new]
