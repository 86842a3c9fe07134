"""Password hashing (argon2id, parameters passed in, re-hash on change) and the password policy."""

from __future__ import annotations

import pytest

from nentang.kernel.identity.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    HashParameters,
    Passwords,
    check_password_policy,
)
from nentang.sdk.errors import ValidationFailed
from tests.identity_fixtures import FAST_HASHING, PASSWORD


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(FAST_HASHING)


def test_hash_is_argon2id_with_the_parameters_passed_in(passwords: Passwords) -> None:
    encoded = passwords.hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert PASSWORD not in encoded
    assert passwords.hash(PASSWORD) != encoded  # a fresh salt each time


def test_verify_accepts_the_password_and_nothing_else(passwords: Passwords) -> None:
    encoded = passwords.hash(PASSWORD)
    assert passwords.verify(encoded, PASSWORD) is True
    assert passwords.verify(encoded, PASSWORD + " ") is False
    assert passwords.verify(encoded, PASSWORD.upper()) is False
    assert passwords.verify(encoded, "") is False


def test_verify_answers_false_for_damaged_hashes_and_over_long_passwords(passwords: Passwords) -> None:
    encoded = passwords.hash(PASSWORD)
    assert passwords.verify("not a hash", PASSWORD) is False
    assert passwords.verify(encoded[:-5], PASSWORD) is False
    assert passwords.verify(encoded, "x" * (MAX_PASSWORD_LENGTH + 1)) is False


def test_dummy_verification_never_raises(passwords: Passwords) -> None:
    passwords.verify_dummy(PASSWORD)
    passwords.verify_dummy("x" * 10_000)


def test_needs_rehash_when_the_parameters_change(passwords: Passwords) -> None:
    encoded = passwords.hash(PASSWORD)
    assert passwords.needs_rehash(encoded) is False
    stronger = Passwords(HashParameters(time_cost=2, memory_cost_kib=16, parallelism=1))
    assert stronger.needs_rehash(encoded) is True
    assert stronger.verify(encoded, PASSWORD) is True  # old hashes keep working until re-made
    assert stronger.needs_rehash(stronger.hash(PASSWORD)) is False
    assert passwords.needs_rehash("garbage") is True


def test_default_parameters_are_rfc_9106_low_memory() -> None:
    assert Passwords().parameters == HashParameters(time_cost=3, memory_cost_kib=65536, parallelism=4)


@pytest.mark.parametrize(
    ("time_cost", "memory_kib", "parallelism"),
    [(0, 8, 1), (1, 7, 1), (1, 8, 2), (1, 64, 0)],
)
def test_bad_hash_parameters_are_refused(time_cost: int, memory_kib: int, parallelism: int) -> None:
    with pytest.raises(ValidationFailed, match="password hashing parameters"):
        HashParameters(time_cost=time_cost, memory_cost_kib=memory_kib, parallelism=parallelism)


def test_policy_length_limits() -> None:
    check_password_policy("a" * MIN_PASSWORD_LENGTH, username="alice")
    check_password_policy("a" * MAX_PASSWORD_LENGTH, username="alice")
    with pytest.raises(ValidationFailed, match="too short: use at least 12 characters") as short:
        check_password_policy("a" * (MIN_PASSWORD_LENGTH - 1), username="alice")
    assert short.value.code == "user.password_policy"
    with pytest.raises(ValidationFailed, match="too long: at most 256 characters"):
        check_password_policy("a" * (MAX_PASSWORD_LENGTH + 1), username="alice")


def test_policy_refuses_the_username_as_password() -> None:
    with pytest.raises(ValidationFailed, match="must not be the username"):
        check_password_policy("administrator", username="administrator")
    with pytest.raises(ValidationFailed, match="must not be the username"):
        check_password_policy("Administrator", username="administrator")


def test_hash_enforces_the_length_limits(passwords: Passwords) -> None:
    with pytest.raises(ValidationFailed, match="too short"):
        passwords.hash("short")
