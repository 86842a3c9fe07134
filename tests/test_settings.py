"""Settings: one frozen value, read from ``NENTANG_*`` variables only by the entry point."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from nentang.kernel.runtime import create_kernel
from nentang.kernel.settings import DEFAULT_APP_ROLE, DEFAULT_DATABASE_URL, Settings, sqlite_path
from nentang.sdk.errors import ValidationFailed


def test_defaults_are_the_embedded_production_setup() -> None:
    settings = Settings.from_environ({})
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///var/nentang.db"
    assert settings.app_database_url is None
    assert settings.app_role == DEFAULT_APP_ROLE == "nentang_app"
    assert settings.mode == "production"
    assert settings.log_json is True
    assert settings.log_level == "INFO"
    assert settings.extra_migration_locations == ()
    assert settings.is_sqlite
    # The constructor's defaults and the environment's defaults agree.
    assert (settings.database_url, settings.mode, settings.log_json, settings.log_level) == (
        Settings().database_url,
        Settings().mode,
        Settings().log_json,
        Settings().log_level,
    )


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("NENTANG_DATABASE_URL", "postgresql+psycopg://u@db:5432/nentang", "database_url", None),
        ("NENTANG_APP_DATABASE_URL", "postgresql+psycopg://app@db:5432/nentang", "app_database_url", None),
        ("NENTANG_APP_DATABASE_URL", "", "app_database_url", "<None>"),
        ("NENTANG_APP_ROLE", "tinh_app", "app_role", None),
        ("NENTANG_MODE", "development", "mode", None),
        ("NENTANG_MODE", "production", "mode", None),
        ("NENTANG_LOG_FORMAT", "console", "log_json", False),
        ("NENTANG_LOG_FORMAT", "json", "log_json", True),
        ("NENTANG_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("NENTANG_LOG_LEVEL", "Warning", "log_level", "WARNING"),
    ],
)
def test_each_variable_sets_its_field(variable: str, value: str, field: str, expected: object) -> None:
    settings = Settings.from_environ({variable: value})
    want = value if expected is None else (None if expected == "<None>" else expected)
    assert getattr(settings, field) == want
    # ...and only that field.
    defaults = Settings.from_environ({})
    others = {f.name for f in dataclasses.fields(Settings)} - {field}
    assert {n: getattr(settings, n) for n in others} == {n: getattr(defaults, n) for n in others}


def test_a_postgresql_url_is_not_sqlite() -> None:
    assert not Settings.from_environ({"NENTANG_DATABASE_URL": "postgresql+psycopg://u@h/db"}).is_sqlite


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NENTANG_MODE", "bogus", "NENTANG_MODE must be 'production' or 'development', not 'bogus'"),
        ("NENTANG_MODE", "Production", "NENTANG_MODE must be 'production' or 'development', not 'Production'"),
        ("NENTANG_MODE", "", "NENTANG_MODE must be"),
        ("NENTANG_LOG_FORMAT", "xml", "NENTANG_LOG_FORMAT must be 'json' or 'console', not 'xml'"),
        ("NENTANG_LOG_FORMAT", "", "NENTANG_LOG_FORMAT must be"),
        ("NENTANG_LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'loud'"),
        ("NENTANG_LOG_LEVEL", "", "NENTANG_LOG_LEVEL must be one of"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Settings.from_environ({variable: value})
    assert message in caught.value.message
    assert caught.value.message.startswith(variable)
    assert caught.value.code == "validation.failed"


def test_only_the_given_mapping_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NENTANG_MODE", "bogus")
    monkeypatch.setenv("NENTANG_DATABASE_URL", "postgresql+psycopg://leak@h/db")
    settings = Settings.from_environ({"DATABASE_URL": "postgresql://ignored@h/db", "MODE": "development"})
    assert settings.mode == "production"
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_settings_are_frozen_and_overrides_make_a_copy() -> None:
    settings = Settings()
    changed = settings.with_overrides(mode="development", log_json=False)
    assert (changed.mode, changed.log_json) == ("development", False)
    assert (settings.mode, settings.log_json) == ("production", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mode = "development"  # type: ignore[misc]


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:///var/nentang.db") == Path("var/nentang.db")
    assert sqlite_path("sqlite:////abs/nentang.db") == Path("/abs/nentang.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/nentang", "NenTang runs on SQLite (embedded) or PostgreSQL (production)"),
        ("oracle+oracledb://u@h/db", "NenTang runs on SQLite (embedded) or PostgreSQL"),
        ("not a database url", "is not a valid SQLAlchemy URL"),
        ("", "is not a valid SQLAlchemy URL"),
    ],
)
def test_an_unsupported_database_url_fails_when_building_a_kernel(url: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(message)) as caught:
        create_kernel(Settings(database_url=url))
    assert repr(url) in caught.value.message


def test_a_bad_app_role_fails_when_building_a_kernel() -> None:
    # The engine is built without connecting, so no server is needed for this check.
    settings = Settings(database_url="postgresql+psycopg://owner@127.0.0.1:1/none", app_role='x"; DROP ROLE y')
    with pytest.raises(ValidationFailed, match="is not a plain lower-case PostgreSQL role name"):
        create_kernel(settings)
