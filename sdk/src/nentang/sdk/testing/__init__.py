"""The NenTang test kit: pytest fixtures that run a real kernel for a plugin's tests.

The kit is a pytest plugin shipped with the SDK (entry point ``pytest11``: ``nentang``), so a
plugin's tests get everything below without a ``conftest.py``; ``-p no:nentang`` turns it off. A
plugin's test code imports only from ``nentang.sdk`` and ``nentang.sdk.testing``; the kit itself
runs the kernel (the ``nentang`` distribution, installed next to the SDK). A typical test::

    @pytest.mark.nentang_plugins("forms")                 # enabled at the commune 00001
    def test_a_clerk_lists_templates(nentang_user, nentang_graphql):
        clerk = nentang_user("forms.clerk")
        result = nentang_graphql(clerk)("{ forms_templates(first: 5) { edges { node { id } } } }")
        assert result.ok, result

Every test gets a kernel of its own on a database of its own: migrated once per session (SQLite by
default; PostgreSQL when ``NENTANG_DATABASE_URL`` names a server), emptied for each test. Nothing is
enabled anywhere until the test says so. Every fixture restores what it changed: the database is
thrown away (SQLite) or emptied before the next test (PostgreSQL), the kernel and its app are
closed, and the hook recorder unwraps what it wrapped. Fixture names and markers carry the
``nentang_`` prefix so they never clash with a project's own fixtures.

Kinds of fixture, after CKAN's taxonomy:

**Side-effect** (markers; nothing to receive)
    ``@pytest.mark.nentang_plugins("forms", "workflows", at="commune", settings={"forms": {...}})``
        enable the plugins as the test's kernel starts (the test uses any fixture built on
        ``nentang_kernel``), as an operator would: their enable hooks run. ``at`` is a level of the
        kit's tree (``"central"``, ``"province"``, ``"commune"``, ``"other_commune"``) or a tenant
        code; the default is the commune ``00001``. Markers on a class or module apply too.
    ``@pytest.mark.nentang_settings(**overrides)``
        kernel settings for the test's kernel (e.g. ``mode="production"``).
    ``@pytest.mark.nentang_contract("forms")``
        after the test body, run the contract suite (:mod:`nentang.sdk.testing.contract`) on the
        plugin — an installed plugin's name or a project folder — and fail with every finding.

**Value** (receive and use)
    ``nentang_kernel`` → :class:`RunningKernel`
        the started kernel, with helpers: ``enable``/``disable``/``enabled``, ``session(tenant)`` (a
        tenant-bound data session), ``context(plugin, tenant, actor=user)`` (the ``TenantContext``
        the kernel would pass), ``call_hook``, ``emit``, ``deliver_events``, ``headers_for(user)``.
    ``nentang_tree`` → :class:`TenantTree`
        ``central`` (TW), ``province`` (01), ``commune`` (00001), ``other_commune`` (00002), each a
        :class:`~nentang.sdk.TenantRef`.
    ``nentang_hooks`` → :class:`HookRecorder`
        every hook implementation that ran (``calls``, ``called``, ``tenants``) and every event
        committed (``events(tenant, type="forms.*")``), per tenant.
    ``nentang_http`` → ``httpx.Client``
        the kernel's real ASGI app in process (Starlette's ``TestClient``), anonymous.
    ``nentang_settings``, ``nentang_database_url``
        the kernel's settings and the test database's URL, for the rare test that needs them.

**Factory** (call to make what the test needs; rare — a hint that a value fixture may be missing)
    ``nentang_user`` → :class:`MakeUser`
        ``nentang_user("forms.clerk", tenant=tree.commune, at=tree.province)`` → :class:`ActingUser`.
    ``nentang_enable`` → :class:`EnablePlugin`
        ``nentang_enable("forms", tree.other_commune, settings={...})``.
    ``nentang_graphql`` → :class:`MakeGraphQLClient`
        ``nentang_graphql(user, tenant)`` → :class:`GraphQLClient`, posting to ``/graphql`` signed in
        as the user with ``X-Tenant``; raises :class:`GraphQLUnavailable` if the kernel serves none.

**Build** (session-scoped, used through the others)
    ``nentang_databases``: the migrated template databases of the session, by set of migration
    branches (a plugin installed mid-session gets a template of its own).

The names in ``__all__`` (types for annotations and the contract suite's entry point) and the
fixture and marker names above are the kit's public surface, held by the same compatibility policy
as the SDK (``docs/sdk-compatibility.md``).
"""

from __future__ import annotations

from nentang.sdk.testing._graphql import GraphQLClient, GraphQLResult, GraphQLUnavailable
from nentang.sdk.testing._recorder import HookCall, HookRecorder
from nentang.sdk.testing._running import RunningKernel
from nentang.sdk.testing._values import (
    ActingUser,
    EnablePlugin,
    MakeGraphQLClient,
    MakeUser,
    TenantLike,
    TenantTree,
)
from nentang.sdk.testing.contract import CheckResult, ContractFinding, ContractReport, check_plugin

#: The fixtures the kit provides (its public surface, with the markers below).
FIXTURES = (
    "nentang_database_url",
    "nentang_databases",
    "nentang_enable",
    "nentang_graphql",
    "nentang_hooks",
    "nentang_http",
    "nentang_kernel",
    "nentang_settings",
    "nentang_tree",
    "nentang_user",
)
#: The kit's markers.
MARKERS = ("nentang_contract", "nentang_plugins", "nentang_settings")

__all__ = [
    "FIXTURES",
    "MARKERS",
    "ActingUser",
    "CheckResult",
    "ContractFinding",
    "ContractReport",
    "EnablePlugin",
    "GraphQLClient",
    "GraphQLResult",
    "GraphQLUnavailable",
    "HookCall",
    "HookRecorder",
    "MakeGraphQLClient",
    "MakeUser",
    "RunningKernel",
    "TenantLike",
    "TenantTree",
    "check_plugin",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("nentang.sdk.testing._"):
        _obj.__module__ = __name__
del _name, _obj
