"""The pytest plugin of the NenTang test kit (entry point ``pytest11``: ``nentang``).

It registers the ``nentang_*`` fixtures and markers described in :mod:`nentang.sdk.testing`. It
is loaded wherever the SDK is installed; disable it with ``-p no:nentang``. Importing it touches no
kernel code: the kernel is imported when a test first asks for one of its fixtures.

``NENTANG_DATABASE_URL`` (read here, the kit's entry point) switches the throwaway databases from
SQLite to PostgreSQL: a ``postgresql+psycopg://...`` URL names the server next to which the kit
creates (and at the end drops) databases of its own. Nothing is ever written to the named database.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nentang.sdk.testing._database import Databases, kit_settings
from nentang.sdk.testing._running import RunningKernel
from nentang.sdk.testing._values import EnablePlugin, MakeGraphQLClient, MakeUser, TenantTree

if TYPE_CHECKING:
    import httpx

    from nentang.kernel.settings import Settings
    from nentang.sdk.testing._recorder import HookRecorder

MARKERS = (
    "nentang_plugins(*plugins, at='commune', settings=None): enable the plugins as the test's kernel starts "
    "(at a level of the kit's tree or a tenant code; settings by plugin name) — NenTang test kit",
    "nentang_settings(**overrides): kernel settings for this test's nentang_kernel — NenTang test kit",
    "nentang_contract(plugin): after the test body, run the contract suite on the plugin (an installed "
    "plugin's name or a project folder) and fail with every finding's code — NenTang test kit",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def _postgres_server() -> str | None:
    url = os.environ.get("NENTANG_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


# -- build (session) --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nentang_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Build fixture: the session's migrated template databases (dropped at the end on PostgreSQL)."""
    databases = Databases(tmp_path_factory.mktemp("nentang-kit"), _postgres_server())
    yield databases
    databases.close()


# -- values -----------------------------------------------------------------------------------------


@pytest.fixture
def nentang_settings(request: pytest.FixtureRequest, nentang_databases: Databases, tmp_path: Path) -> Settings:
    """Value: the kernel settings of this test, on a migrated, empty database of its own."""
    overrides: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("nentang_settings"))):
        overrides.update(marker.kwargs)
    settings = kit_settings("sqlite://", tmp_path, overrides)
    return settings.with_overrides(database_url=nentang_databases.fresh(settings, tmp_path))


@pytest.fixture
def nentang_database_url(nentang_settings: Settings) -> str:
    """Value: the URL of this test's migrated, empty database."""
    return nentang_settings.database_url


@pytest.fixture
def nentang_kernel(request: pytest.FixtureRequest, nentang_settings: Settings) -> Iterator[RunningKernel]:
    """Value: a started kernel on this test's database, with the plugins of the test's
    ``nentang_plugins`` markers enabled; closed (hooks unwrapped) afterwards."""
    running = RunningKernel(nentang_settings)
    try:
        _enable_marked(request, running)
        yield running
    finally:
        running.close()


@pytest.fixture
def nentang_tree(nentang_kernel: RunningKernel) -> TenantTree:
    """Value: the tenant tree TW → 01 → {00001, 00002}, as :class:`~nentang.sdk.TenantRef` values."""
    return nentang_kernel.tree


@pytest.fixture
def nentang_hooks(nentang_kernel: RunningKernel) -> HookRecorder:
    """Value: the recorder of hook calls (per tenant) and emitted events of this test's kernel."""
    return nentang_kernel.hooks


@pytest.fixture
def nentang_http(nentang_kernel: RunningKernel) -> httpx.Client:
    """Value: an HTTP client driving the kernel's real app in process (anonymous; add
    ``nentang_kernel.headers_for(user)`` to act as a user)."""
    return nentang_kernel.http


# -- factories --------------------------------------------------------------------------------------


@pytest.fixture
def nentang_user(nentang_kernel: RunningKernel) -> MakeUser:
    """Factory: ``nentang_user("forms.clerk", tenant=..., at=...)`` → a user holding those roles."""
    return nentang_kernel.make_user


@pytest.fixture
def nentang_enable(nentang_kernel: RunningKernel) -> EnablePlugin:
    """Factory: ``nentang_enable("forms", tenant=..., settings=...)`` enables a plugin as an operator."""
    return nentang_kernel.enable


@pytest.fixture
def nentang_graphql(nentang_kernel: RunningKernel) -> MakeGraphQLClient:
    """Factory: ``nentang_graphql(user, tenant)`` → a GraphQL client acting as ``user`` in ``tenant``."""
    return nentang_kernel.graphql


# -- markers ----------------------------------------------------------------------------------------


def _enable_marked(request: pytest.FixtureRequest, running: RunningKernel) -> None:
    """Side effect of ``@pytest.mark.nentang_plugins``: enable the plugins as the kernel starts (a
    test with the marker gets it through any fixture built on ``nentang_kernel``)."""
    done: set[tuple[str, str]] = set()
    for marker in reversed(list(request.node.iter_markers("nentang_plugins"))):  # the test's own last
        at = marker.kwargs.get("at", "commune")
        tenant = running.tree[at] if isinstance(at, str) else at
        settings = marker.kwargs.get("settings") or {}
        strays = sorted(set(settings) - set(marker.args))
        if strays:
            raise pytest.UsageError(
                f"nentang_plugins: settings are keyed by plugin name, e.g. settings={{'forms': {{...}}}}; "
                f"{strays} are not among the marker's plugins {list(marker.args)}"
            )
        for plugin in marker.args:
            if (plugin, tenant.code) in done:
                continue
            running.enable(plugin, tenant, settings=settings.get(plugin))
            done.add((plugin, tenant.code))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """``@pytest.mark.nentang_contract(plugin)``: run the test body, then the contract suite."""
    outcome = yield
    marker = pyfuncitem.get_closest_marker("nentang_contract")
    if marker is not None:
        from nentang.sdk.testing.contract import check_plugin

        if len(marker.args) != 1:
            raise pytest.UsageError("nentang_contract takes one argument: an installed plugin's name or a folder")
        report = check_plugin(marker.args[0], postgres_url=_postgres_server())
        if not report.ok:
            pytest.fail(report.text(), pytrace=False)
    return outcome


__all__ = [
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
]
