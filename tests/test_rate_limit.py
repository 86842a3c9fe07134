"""The sliding window behind ``/auth/oidc/start``'s limit (the route's 429 is in test_oidc_routes.py)."""

from __future__ import annotations

import pytest

from nentang.kernel.http.rate_limit import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_quota_per_window_and_is_told_how_long_to_wait() -> None:
    clock = Clock()
    limit = RateLimit(3, 60.0, clock=clock)
    assert [limit.wait_for("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    assert limit.wait_for("10.0.0.1") == pytest.approx(50.0)  # the first attempt leaves the window in 50 s
    assert limit.wait_for("10.0.0.2") == 0.0  # another client is not affected
    clock.now += 50
    assert limit.wait_for("10.0.0.1") == 0.0  # the window slid past the first attempt


def test_refused_attempts_do_not_extend_the_wait() -> None:
    clock = Clock()
    limit = RateLimit(1, 60.0, clock=clock)
    assert limit.wait_for("a") == 0.0
    for _ in range(100):
        clock.now += 0.5
        assert limit.wait_for("a") > 0
    clock.now = 1060.0
    assert limit.wait_for("a") == 0.0


def test_memory_is_bounded_by_forgetting_the_client_seen_longest_ago() -> None:
    clock = Clock()
    limit = RateLimit(1, 60.0, max_clients=2, clock=clock)
    for client in ("a", "b", "c"):
        assert limit.wait_for(client) == 0.0
    assert limit.wait_for("c") > 0 and limit.wait_for("b") > 0
    assert limit.wait_for("a") == 0.0  # forgotten: a fresh window (the bound, not a lock-out)


@pytest.mark.parametrize(("events", "window"), [(0, 60.0), (5, 0.0), (-1, -1.0)])
def test_a_meaningless_limit_is_refused(events: int, window: float) -> None:
    with pytest.raises(ValueError, match="max_events >= 1 and window_seconds > 0"):
        RateLimit(events, window)
