"""Local sign-in: success, wrong password, unknown and disabled users (indistinguishable), throttling
per username at an address (without checking the password while locked), reset on success, and the
audit trail. The other counters (address, name everywhere, platform) are in test_login_throttle.py."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from nentang.kernel.identity.login import BAD_CREDENTIALS_MESSAGE, LoginService
from nentang.kernel.identity.login_throttle import pair_key
from nentang.kernel.identity.models import LoginThrottle, User
from nentang.kernel.identity.passwords import HashParameters, Passwords
from nentang.kernel.identity.timeutil import now
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied
from tests.conftest import Tree
from tests.identity_fixtures import (
    FAST_HASHING,
    OPERATOR,
    PASSWORD,
    audit_entries,
    identity_settings,
    make_user,
)

WRONG = "not the right password"
CLIENT = "203.0.113.7"
_COUNT_LOCK = threading.Lock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


class CountingPasswords(Passwords):
    """The real hasher, counting verifications (real and dummy)."""

    __slots__ = ("verifications",)

    def __init__(self, parameters: HashParameters) -> None:
        super().__init__(parameters)
        self.verifications = 0

    def verify(self, encoded_hash: str, password: str) -> bool:
        with _COUNT_LOCK:
            self.verifications += 1
        return super().verify(encoded_hash, password)


@pytest.fixture
def counting() -> CountingPasswords:
    return CountingPasswords(FAST_HASHING)


@pytest.fixture
def login(kernel: Kernel, counting: CountingPasswords) -> LoginService:
    return LoginService(kernel.db, kernel.audit, counting, kernel.settings.identity)


def refusal(login: LoginService, username: str, password: str) -> PermissionDenied:
    with pytest.raises(PermissionDenied) as refused:
        login.authenticate(username, password, client=CLIENT)
    return refused.value


def throttle_row(kernel: Kernel, username: str) -> LoginThrottle | None:
    """The counter of ``username`` signing in from :data:`CLIENT`."""
    with kernel.db.platform() as session:
        return session.get(LoginThrottle, pair_key(username, CLIENT))


def shift_throttle(kernel: Kernel, *, by: timedelta) -> None:
    """Move every throttle row's clock (window start and lock) by ``by``, as if time had passed."""
    with kernel.db.platform() as session, session.begin():
        rows = session.scalars(select(LoginThrottle)).all()
        assert rows
        for row in rows:
            row.window_started_at = row.window_started_at - by
            if row.locked_until is not None:
                row.locked_until = row.locked_until - by


def test_success_returns_the_user_records_the_login_and_clears_the_throttle(
    kernel: Kernel, tree: Tree, login: LoginService
) -> None:
    user = make_user(kernel, "alice", "00001")
    refusal(login, "alice", WRONG)
    assert throttle_row(kernel, "alice") is not None
    signed_in = login.authenticate("  Alice ", PASSWORD, client="203.0.113.7")
    assert signed_in.id == user.id and signed_in.last_login_at is not None
    assert throttle_row(kernel, "alice") is None
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("auth.login", user.principal, "alice")
    assert detail == {"username": "alice", "client": "203.0.113.7", "method": "password"}


def test_wrong_password_is_refused_and_audited_as_a_security_event(
    kernel: Kernel, tree: Tree, login: LoginService
) -> None:
    make_user(kernel, "alice", "00001")
    error = refusal(login, "alice", WRONG)
    assert (error.code, error.message) == ("auth.bad_credentials", BAD_CREDENTIALS_MESSAGE)
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("auth.login_failed", "system:login", "alice")
    assert detail == {"username": "alice", "client": "203.0.113.7", "reason": "wrong_password", "failures": 1}
    assert WRONG not in str(audit_entries(kernel, tree.c1.id))


def test_unknown_user_is_indistinguishable_from_a_wrong_password(
    kernel: Kernel, tree: Tree, login: LoginService, counting: CountingPasswords
) -> None:
    make_user(kernel, "alice", "00001")
    make_user(kernel, "nopass", "00001", password=None)
    kernel.users.disable_as_operator(OPERATOR, "nopass")
    make_user(kernel, "carol", "00001")
    kernel.users.disable_as_operator(OPERATOR, "carol")
    refusals = {
        "wrong password": refusal(login, "alice", WRONG),
        "unknown user": refusal(login, "ghost", PASSWORD),
        "no local password": refusal(login, "nopass", PASSWORD),
        "disabled, right password": refusal(login, "carol", PASSWORD),
    }
    assert {(type(e), e.code, e.message) for e in refusals.values()} == {
        (PermissionDenied, "auth.bad_credentials", BAD_CREDENTIALS_MESSAGE)
    }
    assert counting.verifications == 4  # the unknown name also paid for one (dummy) verification
    # ... but the audit log tells the operators what happened; unknown names go to the root tenant
    root = [e for e in audit_entries(kernel, tree.central.id) if e[0] == "auth.login_failed"]
    assert [(e[2], e[3]["reason"]) for e in root] == [("ghost", "unknown_user")]
    home = [(e[2], e[3]["reason"]) for e in audit_entries(kernel, tree.c1.id) if e[0] == "auth.login_failed"]
    assert home == [("alice", "wrong_password"), ("nopass", "no_local_password"), ("carol", "disabled")]


def test_five_failures_lock_the_name_and_locked_attempts_do_not_check_the_password(
    kernel: Kernel, tree: Tree, login: LoginService, counting: CountingPasswords
) -> None:
    make_user(kernel, "alice", "00001")
    for attempt in range(1, 6):
        assert refusal(login, "alice", f"{WRONG} {attempt}").code == "auth.bad_credentials"
    row = throttle_row(kernel, "alice")
    assert row is not None and row.locked_until is not None
    assert audit_entries(kernel, tree.c1.id)[-1][3]["failures"] == 5
    assert "locked_until" in audit_entries(kernel, tree.c1.id)[-1][3]

    checked = counting.verifications
    locked = refusal(login, "alice", PASSWORD)  # even the right password
    assert locked.code == "auth.throttled"
    assert "too many failed sign-ins" in locked.message and "try again after" in locked.message
    assert "in about 15 minutes" in locked.message
    assert counting.verifications == checked
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("auth.login_throttled", "system:login", "alice")
    assert detail["locked_until"]
    row = throttle_row(kernel, "alice")
    assert row is not None and row.locked_until is not None


def test_unknown_names_are_throttled_the_same_way(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    for _ in range(5):
        assert refusal(login, "ghost", WRONG).code == "auth.bad_credentials"
    assert refusal(login, "ghost", WRONG).code == "auth.throttled"
    # Audited up to the bound for unknown names from one address (five); the rest only counted.
    assert [e[0] for e in audit_entries(kernel, tree.central.id)].count("auth.login_failed") == 5


def test_the_lock_ends_after_the_lockout(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    make_user(kernel, "alice", "00001")
    for _ in range(5):
        refusal(login, "alice", WRONG)
    assert refusal(login, "alice", PASSWORD).code == "auth.throttled"
    shift_throttle(kernel, by=timedelta(minutes=15, seconds=1))
    assert login.authenticate("alice", PASSWORD, client=CLIENT).username == "alice"


def test_success_resets_the_counter(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    make_user(kernel, "alice", "00001")
    for _ in range(4):
        refusal(login, "alice", WRONG)
    login.authenticate("alice", PASSWORD, client=CLIENT)
    for _ in range(4):
        assert refusal(login, "alice", WRONG).code == "auth.bad_credentials"
    assert login.authenticate("alice", PASSWORD, client=CLIENT).username == "alice"


def test_failures_outside_the_window_do_not_count(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    make_user(kernel, "alice", "00001")
    for _ in range(4):
        refusal(login, "alice", WRONG)
    shift_throttle(kernel, by=timedelta(minutes=16))
    refusal(login, "alice", WRONG)
    row = throttle_row(kernel, "alice")
    assert row is not None and (row.failures, row.locked_until) == (1, None)
    assert login.authenticate("alice", PASSWORD, client=CLIENT).username == "alice"


def test_login_rehashes_a_password_made_with_older_parameters(
    kernel: Kernel, tree: Tree, settings: Settings, database_url: str
) -> None:
    make_user(kernel, "alice", "00001")
    stronger = HashParameters(time_cost=2, memory_cost_kib=16, parallelism=1)
    upgraded = create_kernel(identity_settings(database_url, password_hashing=stronger))
    try:
        upgraded.login.authenticate("alice", PASSWORD)
    finally:
        upgraded.close()
    with kernel.db.platform() as session:
        encoded = session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert encoded is not None and encoded.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert audit_entries(kernel, tree.c1.id)[-1][3]["rehashed"] is True
    assert kernel.login.authenticate("alice", PASSWORD).username == "alice"


def test_login_with_no_tenants_at_all_is_a_plain_refusal(kernel: Kernel, login: LoginService) -> None:
    assert refusal(login, "ghost", WRONG).code == "auth.bad_credentials"


def test_absurd_input_is_refused_like_any_wrong_credential(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    for name, password in (("", PASSWORD), ("x" * 5000, PASSWORD), ("alice", "y" * 100_000)):
        assert refusal(login, name, password).code == "auth.bad_credentials"


def test_throttle_message_names_the_time(kernel: Kernel, tree: Tree, login: LoginService) -> None:
    make_user(kernel, "alice", "00001")
    with kernel.db.platform() as session, session.begin():
        session.add(LoginThrottle(key="user:alice", failures=0, locked_until=now() + timedelta(hours=2)))
    error = refusal(login, "alice", PASSWORD)
    assert error.code == "auth.throttled" and "UTC (in about 120 minutes)" in error.message


def test_concurrent_guesses_are_counted_one_by_one(
    kernel: Kernel, tree: Tree, login: LoginService, counting: CountingPasswords
) -> None:
    """A burst of parallel guesses cannot all be checked before the lock: the throttle row is locked
    for each attempt, so only the first five reach the password check."""
    make_user(kernel, "alice", "00001")

    def attempt(i: int) -> str:
        try:
            login.authenticate("alice", f"{WRONG} {i}")
        except PermissionDenied as exc:
            return exc.code
        return "signed in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(attempt, range(16)))
    assert sorted(codes) == ["auth.bad_credentials"] * 5 + ["auth.throttled"] * 11
    assert counting.verifications == 5
