"""Readiness that tells the truth (#13 item 8).

- A plugin installed live needs no restart: after ``pip install`` of a plugin with migrations,
  ``nentang db upgrade`` and ``nentang plugin rescan``, a running worker is ready again. (It used
  to parse the migration scripts once at start, so the database's new plugin revision was unknown
  to it and ``/readyz`` stayed 503 until a restart.)
- In production mode the registry of approvals comes from configuration, and a worker that cannot
  run what it approves is not ready.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from nentang.kernel.cli.serve import require_configured_registry
from nentang.kernel.data import migrate
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import ValidationFailed
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "lt0001"
down_revision = None
branch_labels = ("late",)
depends_on = "kernel"


def upgrade() -> None:
    op.create_table("late_thing", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("late_thing")
"""


@pytest.fixture
def cleanup(settings: Settings) -> Iterator[None]:
    """The PostgreSQL database is shared by the session: take the plugin's branch out again."""
    yield
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version WHERE version_num = 'lt0001'"))
        connection.execute(text("DROP TABLE IF EXISTS late_thing"))
    engine.dispose()


def install_with_migrations(factory: PluginFactory) -> None:
    """What ``pip install nentang-late`` leaves: the package, its migrations and both entry points."""
    factory.make("late", extra_files={"migrations/__init__.py": "", "migrations/lt0001_things.py": MIGRATION})
    (info,) = factory.root.glob("nentang_late-*.dist-info")
    entry_points = info / "entry_points.txt"
    entry_points.write_text(entry_points.read_text() + "\n[nentang.migrations]\nlate = nentang_late.migrations\n")
    importlib.invalidate_caches()


def test_a_worker_is_ready_again_after_a_live_install_upgrade_and_rescan(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, settings: Settings, tree: Tree, cleanup: None
) -> None:
    kernel: Kernel = make_kernel()
    with TestClient(create_app(kernel)) as http:
        assert http.get("/readyz").status_code == 200

        install_with_migrations(plugin_factory)
        engine = create_engine(settings.database_url)
        try:
            migrate.upgrade(engine, settings)  # `nentang db upgrade`, from another process
        finally:
            engine.dispose()
        kernel.plugins.scan()  # `nentang plugin rescan`

        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["checks"] == {"database": True, "migrations": True, "plugins": True}
        assert ready.json()["plugins"] == {"late": "0.1.0"}


def test_a_worker_still_says_when_migrations_are_pending(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree, cleanup: None
) -> None:
    """Re-reading the scripts must not hide what is really pending: installed and registered by a
    rescan, but the database not yet upgraded."""
    kernel: Kernel = make_kernel()
    install_with_migrations(plugin_factory)
    kernel.plugins.scan()
    readiness = kernel.readiness()
    assert (readiness.ready, readiness.migrations) == (False, False)
    assert "lt0001" in (readiness.detail or "")


# -- production mode: the registry from configuration, and readiness that says what it lacks --------


def test_production_readiness_needs_the_registry_where_configured(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree, tmp_path: Path
) -> None:
    """The original failure: a worker started in another directory found no ``registry.toml``,
    took that as "nothing approved", and still said ready."""
    plugin_factory.make("reviewed")
    kernel: Kernel = make_kernel(mode="production")  # its registry: tmp_path/registry.toml, absent
    readiness = kernel.readiness()
    assert (readiness.ready, readiness.plugins) == (False, False)
    assert "no registry of approved plugins at" in readiness.detail and "NENTANG_REGISTRY" in readiness.detail

    (tmp_path / "registry.toml").write_text("schema = [")
    assert "cannot be read" in kernel.readiness().detail


def test_production_readiness_names_an_approved_plugin_that_did_not_register(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree, tmp_path: Path
) -> None:
    plugin_factory.make("reviewed")
    plugin_factory.make("flaky", "raise RuntimeError('cannot reach its templates')\n")
    for name in ("reviewed", "flaky"):
        plugin_factory.approve(tmp_path / "registry.toml", name)  # approved as installed: it breaks anyway
    kernel = make_kernel(mode="production")
    assert set(kernel.plugins.host.plugins) == {"reviewed"}
    readiness = kernel.readiness()
    assert not readiness.ready and "not registered: flaky" in readiness.detail, readiness
    with TestClient(create_app(kernel)) as http:
        answer = http.get("/readyz")
    assert answer.status_code == 503 and answer.json()["checks"]["plugins"] is False


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        (None, "nentang serve in production mode needs NENTANG_REGISTRY"),
        (" ", "nentang serve in production mode needs NENTANG_REGISTRY"),
        ("registry.toml", "NENTANG_REGISTRY must be an absolute path in production mode"),
    ],
)
def test_serving_in_production_needs_the_registry_configured_absolutely(registry: str | None, message: str) -> None:
    environ = {"NENTANG_MODE": "production"} | ({"NENTANG_REGISTRY": registry} if registry is not None else {})
    with pytest.raises(ValidationFailed, match=message):
        require_configured_registry(Settings.from_environ(environ), environ)
    development = {"NENTANG_MODE": "development"}
    require_configured_registry(Settings.from_environ(development), development)  # the demo needs none


def test_a_relative_registry_is_resolved_once_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_environ({"NENTANG_REGISTRY": "approvals/registry.toml"})
    assert settings.registry_path == tmp_path / "approvals" / "registry.toml"  # absolute from now on
