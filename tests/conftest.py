"""Fixtures for the kernel's own tests.

The suite runs on SQLite by default and on PostgreSQL when ``NENTANG_DATABASE_URL`` names one
(``.ci/run`` does both). Kinds of fixture, after CKAN's taxonomy:

- value fixtures: ``settings``, ``kernel``, ``tree``, ``client``;
- build fixtures (session-scoped): ``database_url`` migrates one database per test session
  (SQLite: a template file copied per test; PostgreSQL: a database of its own, emptied per test).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from nentang.kernel.data import migrate
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.models import TenantKind
from nentang.kernel.tenancy.service import TenantInfo

pytest_plugins = ["tests.plugin_factory", "tests.plugin_fixtures", "tests.cli_fixtures", "tests.guard_fixtures"]

NOTES_MIGRATIONS = str(Path(__file__).parent / "fixtures" / "notes_plugin" / "migrations")
POSTGRES_URL = os.environ.get("NENTANG_DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgresql")
ACTOR = Actor.system("tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="PostgreSQL only: set NENTANG_DATABASE_URL to a PostgreSQL URL")
    for item in items:
        if "postgres_only" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)


#: A fixed key for the kernels the tests run in production mode (which refuses to start without one).
TEST_SECRETS_KEY = "3pwd-oVFfIrilLhYm3AooJknXMfkI8LaPhDgn9xwwUY="


def make_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, mode="development", extra_migration_locations=(NOTES_MIGRATIONS,))


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """A database of its own for this test session, created next to the one CI gives us."""
    admin_url = make_url(POSTGRES_URL)
    name = f"nentang_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    owner = create_engine(url)
    migrate.upgrade(owner, make_settings(url))
    owner.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "nentang.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine, make_settings(f"sqlite:///{path}"))
    engine.dispose()
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for one test."""
    if ON_POSTGRES:
        url: str = request.getfixturevalue("_postgres_database")
        _empty_postgres(url)
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    target = tmp_path / "nentang.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).all()
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(f'{t}' for t in tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def kernel(settings: Settings) -> Iterator[Kernel]:
    built = create_kernel(settings)
    with built.db.platform() as session, session.begin():
        built.authz.sync_declarations(session)  # on PostgreSQL the tables were just emptied
    built.start()
    try:
        yield built
    finally:
        built.close()


@dataclass(frozen=True)
class Tree:
    """TW → {01 → {00001, 00002}, 02 → {00003}}: the smallest tree with two of each level."""

    central: TenantInfo
    p1: TenantInfo
    p2: TenantInfo
    c1: TenantInfo
    c2: TenantInfo
    c3: TenantInfo


@pytest.fixture
def tree(kernel: Kernel) -> Tree:
    t = kernel.tenants

    def make(code: str, name: str, kind: TenantKind, parent: str | None) -> TenantInfo:
        return t.create(code=code, name=name, kind=kind, parent_code=parent, actor=ACTOR)

    central = make("TW", "Trung ương", TenantKind.CENTRAL, None)
    p1 = make("01", "Thành phố Hà Nội", TenantKind.PROVINCE, "TW")
    p2 = make("02", "Tỉnh Tuyên Quang", TenantKind.PROVINCE, "TW")
    c1 = make("00001", "Phường Một", TenantKind.COMMUNE, "01")
    c2 = make("00002", "Phường Hai", TenantKind.COMMUNE, "01")
    c3 = make("00003", "Xã Ba", TenantKind.COMMUNE, "02")
    return Tree(central, p1, p2, c1, c2, c3)


@pytest.fixture
def client(kernel: Kernel) -> Iterator[TestClient]:
    """The real app in process, over HTTP semantics (Starlette's TestClient drives httpx)."""
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        yield http


@pytest.fixture
def https_client(kernel: Kernel) -> Iterator[TestClient]:
    """:func:`client` over https: the session cookie (``Secure``) goes back, as from a browser."""
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as http:
        yield http
