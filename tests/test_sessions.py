"""Web sessions: only a hash is stored, resolve refuses revoked/expired/idle/disabled, last-seen is
written at most once a minute, and the cookie's Secure flag follows the setting."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import WebSession
from nentang.kernel.identity.sessions import SessionService
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import ValidationFailed
from tests.conftest import Tree
from tests.identity_fixtures import OPERATOR, identity_settings, make_user, web_sessions


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def user_id(kernel: Kernel, tree: Tree) -> int:
    return make_user(kernel, "alice", "00001").id


def shift(kernel: Kernel, session_id: str, **fields: timedelta) -> None:
    """Move a session's timestamps into the past, as if that much time had gone by."""
    with kernel.db.platform() as session, session.begin():
        row = session.get(WebSession, session_id)
        assert row is not None
        for name, delta in fields.items():
            setattr(row, name, getattr(row, name) - delta)


def test_the_database_holds_only_the_hash_of_the_cookie(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    assert len(opened.cookie_value) == 43 and len(opened.csrf_token) == 43
    assert opened.cookie_value not in repr(opened)
    [row] = web_sessions(kernel, user_id)
    assert row.id == hashlib.sha256(opened.cookie_value.encode()).hexdigest() == opened.session_id
    assert opened.cookie_value not in (row.id, row.csrf_token)
    assert aware(row.expires_at) - aware(row.created_at) == timedelta(hours=12)


def test_resolve_finds_the_session_and_its_user(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    active = kernel.sessions.resolve(opened.cookie_value)
    assert active is not None
    assert (active.id, active.user.id, active.user.username, active.csrf_token) == (
        opened.session_id,
        user_id,
        "alice",
        opened.csrf_token,
    )


@pytest.mark.parametrize("value", [None, "", "short", "x" * 43 + "!", "A" * 43, "é" * 43])
def test_resolve_refuses_absent_malformed_and_unknown_cookies(kernel: Kernel, user_id: int, value: str | None) -> None:
    kernel.sessions.create(user_id)
    assert kernel.sessions.resolve(value) is None


def test_revoked_sessions_are_gone(kernel: Kernel, user_id: int) -> None:
    opened, other = kernel.sessions.create(user_id), kernel.sessions.create(user_id)
    assert kernel.sessions.revoke(opened.session_id) is True
    assert kernel.sessions.resolve(opened.cookie_value) is None
    assert kernel.sessions.revoke(opened.session_id) is False
    assert kernel.sessions.resolve(other.cookie_value) is not None


def test_idle_sessions_end(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    shift(kernel, opened.session_id, last_seen_at=timedelta(minutes=29))
    assert kernel.sessions.resolve(opened.cookie_value) is not None  # ...and that request counts as activity
    shift(kernel, opened.session_id, last_seen_at=timedelta(minutes=30))
    assert kernel.sessions.resolve(opened.cookie_value) is None


def test_sessions_end_at_their_absolute_lifetime_even_when_busy(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    shift(kernel, opened.session_id, expires_at=timedelta(hours=12))
    assert kernel.sessions.resolve(opened.cookie_value) is None


def test_last_seen_is_written_at_most_once_a_minute(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    [before] = web_sessions(kernel, user_id)
    for _ in range(3):
        kernel.sessions.resolve(opened.cookie_value)
    [after] = web_sessions(kernel, user_id)
    assert after.last_seen_at == before.last_seen_at
    shift(kernel, opened.session_id, last_seen_at=timedelta(minutes=2))
    kernel.sessions.resolve(opened.cookie_value)
    [touched] = web_sessions(kernel, user_id)
    assert now() - aware(touched.last_seen_at) < timedelta(seconds=30)


def test_a_disabled_users_sessions_do_not_resolve(kernel: Kernel, user_id: int) -> None:
    opened = kernel.sessions.create(user_id)
    kernel.users.disable_as_operator(OPERATOR, "alice")
    assert kernel.sessions.resolve(opened.cookie_value) is None


def test_session_cookie_is_secure_by_default_even_on_localhost(kernel: Kernel) -> None:
    sessions = kernel.sessions
    for scheme, host in (("http", "localhost"), ("http", "127.0.0.1"), ("https", "example.gov.vn")):
        assert sessions.cookie_secure(scheme=scheme, host=host) is True


def test_the_insecure_setting_only_relaxes_plain_http_on_loopback(kernel: Kernel) -> None:
    relaxed = SessionService(kernel.db, IdentitySettings(session_cookie_secure=False))
    assert relaxed.cookie_secure(scheme="http", host="localhost") is False
    assert relaxed.cookie_secure(scheme="http", host="127.0.0.1") is False
    assert relaxed.cookie_secure(scheme="http", host="[::1]") is False
    assert relaxed.cookie_secure(scheme="https", host="localhost") is True
    assert relaxed.cookie_secure(scheme="http", host="dichvucong.gov.vn") is True
    assert relaxed.cookie_secure(scheme="http", host="10.0.0.5") is True


def test_cookie_setting_from_the_environment() -> None:
    assert IdentitySettings.from_environ({}).session_cookie_secure is True
    assert IdentitySettings.from_environ({"NENTANG_SESSION_COOKIE_SECURE": "false"}).session_cookie_secure is False
    with pytest.raises(ValidationFailed, match="NENTANG_SESSION_COOKIE_SECURE must be 'true' or 'false'"):
        IdentitySettings.from_environ({"NENTANG_SESSION_COOKIE_SECURE": "maybe"})
    assert Settings.from_environ({"NENTANG_SESSION_COOKIE_SECURE": "0"}).identity.session_cookie_secure is False


def test_identity_settings_refuse_nonsense() -> None:
    with pytest.raises(ValidationFailed, match="session_idle_timeout"):
        IdentitySettings(session_idle_timeout=timedelta(days=2))
    with pytest.raises(ValidationFailed, match="login_max_failures"):
        IdentitySettings(login_max_failures=0)
