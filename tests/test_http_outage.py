"""A database outage answers 503 ``unavailable`` with ``Retry-After``, logged once, and ends by itself.

The outage is real: the test's PostgreSQL database stops accepting connections
(``ALLOW_CONNECTIONS false``) and its open connections are terminated, as a restart would; then
it is let back in. The classification itself is checked on SQLite's and psycopg's own errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from graphql import GraphQLError
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from nentang.kernel.data.failures import is_lost_race, is_outage
from nentang.kernel.graphql.errors import format_error
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import POSTGRES_URL, Tree
from tests.graphql_fixtures import GRAPHQL_RESPONSE, token_for
from tests.identity_fixtures import identity_settings

QUERY = {"query": '{ tenant(code: "00001") { code name } }'}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def http(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def set_connections(database_url: str, allowed: bool) -> None:
    name = make_url(database_url).database
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
    admin.dispose()


@pytest.mark.postgres_only
def test_an_outage_is_503_unavailable_logged_once_and_ends_by_itself(
    http: TestClient, kernel: Kernel, tree: Tree, database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(kernel, '00001', 'viewer')}", "Accept": GRAPHQL_RESPONSE}
    assert http.post("/graphql", json=QUERY, headers=headers).json()["data"]["tenant"]["code"] == "00001"
    set_connections(database_url, allowed=False)
    try:
        with capture_logs() as logs:
            answers = [http.post("/graphql", json=QUERY, headers=headers) for _ in range(5)]
            routes = [http.get("/t/00002/"), http.get("/readyz")]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "2"
            assert [e["extensions"]["code"] for e in answer.json()["errors"]] == ["unavailable"]
        assert routes[0].status_code == 503 and routes[0].json()["error"]["code"] == "unavailable"
        assert routes[1].status_code == 503
        lines = [entry for entry in logs if entry["log_level"] in ("error", "critical")]
        assert [entry["event"] for entry in lines] == ["database.unavailable"], lines
    finally:
        set_connections(database_url, allowed=True)
    again = http.post("/graphql", json=QUERY, headers=headers)
    assert again.status_code == 200 and again.json()["data"]["tenant"]["code"] == "00001"


def test_sqlite_errors_are_told_apart() -> None:
    unreachable = exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    busy = exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    syntax = exc.OperationalError("SELEC 1", {}, sqlite3.OperationalError('near "SELEC": syntax error'))
    race = exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: kernel_user.username"))
    foreign = exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("FOREIGN KEY constraint failed"))
    assert is_outage(unreachable)
    assert not is_outage(busy) and not is_outage(syntax) and not is_outage(race)
    assert is_lost_race(race) and not is_lost_race(foreign) and not is_lost_race(unreachable)


@pytest.mark.postgres_only
def test_postgresql_errors_are_told_apart(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TEMP TABLE t (k int PRIMARY KEY, f int CHECK (f > 0))"))
            connection.execute(text("INSERT INTO t VALUES (1, 1)"))
            with pytest.raises(exc.IntegrityError) as race:
                connection.execute(text("INSERT INTO t VALUES (1, 1)"))
            connection.rollback()
            connection.execute(text("CREATE TEMP TABLE u (k int PRIMARY KEY, f int CHECK (f > 0))"))
            with pytest.raises(exc.IntegrityError) as check:
                connection.execute(text("INSERT INTO u VALUES (2, -1)"))
            connection.rollback()
            with pytest.raises(exc.ProgrammingError) as syntax:
                connection.execute(text("SELEC 1"))
        assert is_lost_race(race.value) and not is_outage(race.value)
        assert not is_lost_race(check.value) and not is_outage(syntax.value)
    finally:
        engine.dispose()
    refused = create_engine(make_url(database_url).set(port=1))
    try:
        with pytest.raises(exc.OperationalError) as down:
            refused.connect()
        assert is_outage(down.value)
    finally:
        refused.dispose()


def test_a_lost_race_in_a_resolver_is_a_conflict_to_retry_and_an_outage_is_unavailable() -> None:
    race = exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: kernel_tenant.code"))
    down = exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    bug = exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL constraint failed: kernel_tenant.name"))
    conflict = format_error(GraphQLError("x", original_error=race))
    assert (
        conflict["extensions"] == {"code": "conflict", "retry": True}
        and "send the request again" in conflict["message"]
    )
    assert format_error(GraphQLError("x", original_error=down))["extensions"] == {"code": "unavailable"}
    assert format_error(GraphQLError("x", original_error=bug))["extensions"]["code"] == "internal"
