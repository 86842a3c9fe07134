"""How often sign-in may fail, counted four ways, so that guessing is slowed and nobody is locked out at will.

A lock on the username alone lets anyone lock ``admin`` out by failing five times. So the counters
(rows of ``kernel_login_throttle``, cluster-wide, each with its own window) are:

- **name at address** ``user:<name>@<address>`` — ``login_max_failures`` failures lock that name *from
  that address* for ``login_lockout``. The real user, elsewhere, still signs in.
- **address** ``addr:<address>`` — ``login_address_max_failures`` failures, whatever the names, lock the
  address: a spray of many names from one place stops.
- **name** ``user:<name>`` — ``login_name_max_failures`` failures from all addresses together *slow* the
  name (one attempt per ``login_slow_interval``) rather than lock it: a botnet guessing one password
  gets a few hundred tries an hour, the user waits seconds.
- **overall** ``all`` — past ``login_overall_max_failures`` failures platform-wide, the address and name
  limits tighten four-fold for the rest of the window: a distributed spray is slowed everywhere.

Names that do not exist are counted like names that do (refusing only real ones would reveal them).
Only the name-at-address row is locked for the whole attempt (``FOR UPDATE``: concurrent guesses are
counted one by one); the others are read at the start and incremented at the end, each held only for
the moment before commit, so sign-ins of different people do not queue behind each other. Rows whose
window and lock have passed are purged (at most once a minute per worker), so a spray of random
names does not grow the table without bound.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, final

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nentang.kernel.identity.config import IdentitySettings
from nentang.kernel.identity.models import LoginThrottle
from nentang.kernel.identity.timeutil import aware

_MAX_NAME_IN_KEY: Final = 100
_MAX_ADDRESS_IN_KEY: Final = 50
OVERALL_KEY: Final = "all"
#: Failed sign-ins for unknown names audited per address and window; the rest are only counted.
UNKNOWN_NAMES_AUDITED: Final = 5
#: How much the address and name limits tighten while the platform-wide count is over its limit.
UNDER_ATTACK_FACTOR: Final = 4
_PURGE_EVERY_SECONDS: Final = 60.0


def name_key(name: str) -> str:
    return "user:" + name[:_MAX_NAME_IN_KEY]


def address_key(address: str) -> str:
    return "addr:" + address[:_MAX_ADDRESS_IN_KEY]


def pair_key(name: str, address: str | None) -> str:
    """The name-at-address key; without an address (a call from the command line), the name's own."""
    return name_key(name) + ("@" + address[:_MAX_ADDRESS_IN_KEY] if address else "@-")


@final
@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused before its password is checked, and until when."""

    reason: str  # "name_at_address", "address" or "name"
    until: datetime


@final
class LoginThrottles:
    """The four counters of one attempt (see the module docstring)."""

    __slots__ = ("_last_purge", "_lock", "settings")

    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def check(self, session: Session, name: str, address: str | None, moment: datetime) -> Refusal | None:
        """Lock this attempt's name-at-address row; say whether any counter refuses the attempt."""
        self._purge_now_and_then(session, moment)
        pair = _locked_row(session, pair_key(name, address), moment)
        for reason, row in (
            ("name_at_address", pair),
            ("address", session.get(LoginThrottle, address_key(address)) if address else None),
            ("name", session.get(LoginThrottle, name_key(name))),
        ):
            if row is not None and row.locked_until is not None and aware(row.locked_until) > moment:
                return Refusal(reason, aware(row.locked_until))
        return None

    def failed(self, session: Session, name: str, address: str | None, moment: datetime) -> tuple[int, datetime | None]:
        """Count a failure on every counter; lock or slow what went over its limit. Returns the
        name-at-address count and, if this failure locked it, until when (for the audit entry)."""
        s = self.settings
        overall = _count(_locked_row(session, OVERALL_KEY, moment), moment, s.login_window, restart_after_lock=False)
        factor = UNDER_ATTACK_FACTOR if overall >= s.login_overall_max_failures else 1
        pair = _locked_row(session, pair_key(name, address), moment)
        if _count(pair, moment, s.login_window) >= s.login_max_failures:
            pair.locked_until = moment + s.login_lockout
        if address:
            row = _locked_row(session, address_key(address), moment)
            if _count(row, moment, s.login_window) >= max(1, s.login_address_max_failures // factor):
                row.locked_until = moment + s.login_lockout
        row = _locked_row(session, name_key(name), moment)
        slowed = _count(row, moment, s.login_window, restart_after_lock=False)
        if slowed >= max(1, s.login_name_max_failures // factor):
            row.locked_until = moment + s.login_slow_interval
        return pair.failures, pair.locked_until

    def quiet_for_unknown_names(self, session: Session, address: str | None, moment: datetime) -> bool:
        """Whether failures for names that do not exist should only be counted, not audited: past
        the first few from this address in the window, or while the platform-wide count is over
        its limit (a spray from many addresses)."""
        from_address = self._failures(session, address_key(address), moment) if address else 0
        overall = self._failures(session, OVERALL_KEY, moment)
        return from_address >= UNKNOWN_NAMES_AUDITED or overall >= self.settings.login_overall_max_failures

    def _failures(self, session: Session, key: str, moment: datetime) -> int:
        row = session.get(LoginThrottle, key)
        if row is None or aware(row.window_started_at) + self.settings.login_window <= moment:
            return 0
        return row.failures

    def succeeded(self, session: Session, name: str, address: str | None) -> None:
        """The user proved who they are: their own counters start again (the address's does not:
        one valid account must not reset a spray's count)."""
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_([pair_key(name, address), name_key(name)])))

    def _purge_now_and_then(self, session: Session, moment: datetime) -> None:
        with self._lock:
            if time.monotonic() - self._last_purge < _PURGE_EVERY_SECONDS:
                return
            self._last_purge = time.monotonic()
        cutoff = moment - self.settings.login_window
        session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_started_at <= cutoff,
                LoginThrottle.key != OVERALL_KEY,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= moment),
            )
        )


def _count(row: LoginThrottle, moment: datetime, window: timedelta, *, restart_after_lock: bool = True) -> int:
    """One more failure on ``row``, in a new window if the old one has passed (or, for a counter
    that locks, once its lock has run out: the lock was the penalty for the old count)."""
    lock_ran_out = row.locked_until is not None and aware(row.locked_until) <= moment
    if aware(row.window_started_at) + window <= moment or (restart_after_lock and lock_ran_out):
        row.failures, row.window_started_at, row.locked_until = 0, moment, None
    row.failures += 1
    return row.failures


def _locked_row(session: Session, key: str, moment: datetime) -> LoginThrottle:
    """The throttle row for ``key``, created if missing and locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, window_started_at=moment)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
