"""Sign-in throttling beyond one username (#13 item 4), each test reproducing what was wrong:

- anyone could lock ``admin`` out by failing five times under that name, from anywhere;
- one address could try a different name each time without limit (a spray);
- failures for made-up names each appended an audit entry (an unbounded log);
- a user homed at a suspended tenant could still sign in with a password (OIDC refused them).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.login import Throttled
from nentang.kernel.identity.models import LoginThrottle
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied, ValidationFailed
from tests.conftest import Tree
from tests.identity_fixtures import OPERATOR, PASSWORD, audit_entries, identity_settings, make_user

ATTACKER = "203.0.113.66"
ADMIN_DESK = "198.51.100.10"
WRONG = "not the right password"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url, login_address_max_failures=12, login_name_max_failures=8)


def fail(kernel: Kernel, username: str, client: str) -> PermissionDenied:
    with pytest.raises(PermissionDenied) as refused:
        kernel.login.authenticate(username, WRONG, client=client)
    return refused.value


def shift_all_throttles(kernel: Kernel, by: timedelta) -> None:
    with kernel.db.platform() as session, session.begin():
        for row in session.scalars(select(LoginThrottle)).all():
            row.window_started_at -= by
            if row.locked_until is not None:
                row.locked_until -= by


def test_failing_as_admin_from_one_address_does_not_lock_admin_out(kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "admin", "TW")
    for _ in range(5):
        assert fail(kernel, "admin", ATTACKER).code == "auth.bad_credentials"
    assert fail(kernel, "admin", ATTACKER).code == "auth.throttled"  # the attacker is stopped...
    assert kernel.login.authenticate("admin", PASSWORD, client=ADMIN_DESK).username == "admin"  # ...admin is not


def test_a_spray_of_names_from_one_address_locks_the_address(kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "officer", "00001")
    for i in range(12):
        assert fail(kernel, f"guess{i}", ATTACKER).code == "auth.bad_credentials"
    with pytest.raises(Throttled) as locked:
        kernel.login.authenticate("officer", PASSWORD, client=ATTACKER)  # even a right password, unchecked
    assert locked.value.retry_after > 14 * 60
    assert kernel.login.authenticate("officer", PASSWORD, client=ADMIN_DESK).username == "officer"


def test_guessing_one_name_from_many_addresses_slows_it_without_locking_it(kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "admin", "TW")
    for i in range(8):
        assert fail(kernel, "admin", f"192.0.2.{i}").code == "auth.bad_credentials"
    with pytest.raises(Throttled) as slowed:
        kernel.login.authenticate("admin", PASSWORD, client=ADMIN_DESK)
    assert 1 <= slowed.value.retry_after <= 10  # seconds, not a lockout
    shift_all_throttles(kernel, timedelta(seconds=11))
    assert kernel.login.authenticate("admin", PASSWORD, client=ADMIN_DESK).username == "admin"


def test_past_the_platform_wide_limit_the_address_limit_tightens(database_url: str, tree: Tree) -> None:
    strict = identity_settings(database_url, login_address_max_failures=12, login_overall_max_failures=6)
    kernel = create_kernel(strict)
    try:
        for i in range(6):
            fail(kernel, f"spray{i}", f"192.0.2.{i}")  # a distributed spray: the platform is over its limit
        codes = [fail(kernel, f"name{i}", ATTACKER).code for i in range(4)]
        assert codes == ["auth.bad_credentials"] * 3 + ["auth.throttled"]  # 12 // 4 = 3 from one address
    finally:
        kernel.close()


def test_made_up_names_do_not_grow_the_audit_log_or_the_throttle_table(
    kernel: Kernel, tree: Tree, database_url: str
) -> None:
    for i in range(11):
        fail(kernel, f"nobody{i}", ATTACKER)
    failed = [e for e in audit_entries(kernel, tree.central.id) if e[0].startswith("auth.login_")]
    assert len(failed) == 5  # the first five from the address; the others are only counted
    shift_all_throttles(kernel, timedelta(minutes=16))
    fresh = create_kernel(identity_settings(database_url))  # a worker that has not purged lately
    try:
        fail(fresh, "nobody-else", ADMIN_DESK)
    finally:
        fresh.close()
    with kernel.db.platform() as session:
        keys = set(session.scalars(select(LoginThrottle.key)).all())
    # Only this attempt's counters (and the platform-wide one) remain; the eleven names are gone.
    assert not any(key.startswith("user:nobody") and "else" not in key for key in keys), keys
    assert "all" in keys


def test_a_user_homed_at_a_suspended_tenant_cannot_sign_in_with_a_password(
    https_client: TestClient, kernel: Kernel, tree: Tree
) -> None:
    make_user(kernel, "officer", "00001")
    kernel.tenants.suspend("01", actor=OPERATOR, reason="inspection")
    with pytest.raises(PermissionDenied) as refused:
        kernel.login.authenticate("officer", PASSWORD, client=ADMIN_DESK)
    assert refused.value.code == "auth.tenant_suspended" and "'00001'" in refused.value.message
    # Without the right password nothing about the tenant is revealed.
    assert fail(kernel, "officer", ADMIN_DESK).code == "auth.bad_credentials"
    reasons = [e[3].get("reason") for e in audit_entries(kernel, tree.c1.id) if e[0] == "auth.login_failed"]
    assert reasons == ["tenant_suspended", "wrong_password"]
    answer = https_client.post("/auth/login", json={"username": "officer", "password": PASSWORD})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "auth.tenant_suspended"
    assert "set-cookie" not in answer.headers
    kernel.tenants.reactivate("01", actor=OPERATOR)
    assert kernel.login.authenticate("officer", PASSWORD, client=ADMIN_DESK).username == "officer"


def test_a_throttled_http_sign_in_says_when_to_retry(https_client: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "officer", "00001")
    for i in range(8):
        https_client.post("/auth/login", json={"username": "officer", "password": f"{WRONG} {i}"})
    slowed = https_client.post("/auth/login", json={"username": "officer", "password": PASSWORD})
    assert slowed.status_code == 429 and slowed.json()["error"]["code"] == "auth.throttled"
    assert 1 <= int(slowed.headers["retry-after"]) <= 15 * 60


@pytest.mark.parametrize(
    "bad", [{"login_address_max_failures": 0}, {"login_name_max_failures": -1}, {"login_overall_max_failures": 0}]
)
def test_limits_below_one_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationFailed, match=next(iter(bad))):
        IdentitySettings(**bad)  # type: ignore[arg-type]


def test_throttle_rows_count_every_name(kernel: Kernel, tree: Tree) -> None:
    """Names that do not exist are counted like names that do: the table would otherwise reveal them."""
    make_user(kernel, "officer", "00001")
    fail(kernel, "officer", ATTACKER)
    fail(kernel, "ghost", ATTACKER)
    with kernel.db.platform() as session:
        counted = session.scalar(select(func.count()).where(LoginThrottle.key.like("user:%@%")))
    assert counted == 2
