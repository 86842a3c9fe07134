"""Password hashing (argon2id) and the password policy.

Why argon2id through argon2-cffi: it is memory-hard (a GPU farm pays for every guess in RAM, not
just in cycles), the library is maintained and wraps the reference implementation, and its encoded
hashes carry their own parameters, so raising the cost later needs no schema change: a hash made
with older parameters is re-made at the user's next successful sign-in (:meth:`Passwords.needs_rehash`).

The cost is a value passed in (:class:`HashParameters`, from the kernel's settings), never a
module global: tests pass a deliberately cheap one, production keeps the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nentang.sdk.errors import ValidationFailed

MIN_PASSWORD_LENGTH: Final = 12
#: Long enough for any passphrase, short enough that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH: Final = 256


@final
@dataclass(frozen=True, slots=True)
class HashParameters:
    """The cost of one argon2id hash. The defaults are RFC 9106's "low memory" profile (64 MiB),
    which argon2-cffi also uses; each hash takes tens to hundreds of milliseconds."""

    #: Passes over memory.
    time_cost: int = 3
    #: Memory per hash in KiB (at least 8 × ``parallelism``).
    memory_cost_kib: int = 65536
    #: Lanes computed in parallel.
    parallelism: int = 4

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1 or self.memory_cost_kib < 8 * self.parallelism:
            raise ValidationFailed(
                "password hashing parameters: time_cost and parallelism must be at least 1 and "
                f"memory_cost_kib at least 8 × parallelism (got {self.time_cost}, {self.memory_cost_kib}, "
                f"{self.parallelism})"
            )


@final
class Passwords:
    """Hash, verify and re-hash passwords with one set of parameters.

    :meth:`verify` never raises for a wrong password or a damaged hash: it answers ``False``, so a
    caller cannot leak the difference through its error handling. The comparison inside argon2 is
    constant-time. :meth:`verify_dummy` spends the same time for a user who does not exist.
    """

    __slots__ = ("_dummy_hash", "_hasher", "parameters")

    def __init__(self, parameters: HashParameters | None = None) -> None:
        self.parameters = parameters or HashParameters()
        self._hasher = PasswordHasher(
            time_cost=self.parameters.time_cost,
            memory_cost=self.parameters.memory_cost_kib,
            parallelism=self.parameters.parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """The encoded argon2id hash (salt and parameters included) of a password."""
        _check_length(password)
        return self._hasher.hash(password)

    def verify(self, encoded_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded_hash``; ``False`` also for a malformed hash and
        for an over-long password (which could not have been set through :meth:`hash`)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return self._hasher.verify(encoded_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification against a hash nobody can match. Used when the user
        is unknown, so the answer's timing does not reveal whether a username exists."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("dummy password that matches no account")
        self.verify(self._dummy_hash, password[:MAX_PASSWORD_LENGTH])

    def needs_rehash(self, encoded_hash: str) -> bool:
        """Whether a (verified) hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(encoded_hash)
        except InvalidHashError:
            return True


def check_password_policy(password: str, *, username: str) -> None:
    """Refuse a password that breaks the policy, naming the rule it breaks.

    The policy is deliberately short (NIST SP 800-63B): length matters, composition rules do not;
    the password may not be the username in any letter case.
    """
    if not isinstance(password, str):
        raise ValidationFailed("the password must be text", code="user.password_policy")
    _check_length(password)
    if password.strip().casefold() == username.strip().casefold():
        raise ValidationFailed("the password must not be the username", code="user.password_policy")


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            f"(got {len(password)}); a passphrase of several words is easiest to remember",
            code="user.password_policy",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters (got {len(password)})",
            code="user.password_policy",
        )
