"""The schema cache on its own: one build per set however many requests race for it, a bounded
LRU, background builds, and a degraded set replaced only by a more complete build."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from nentang.kernel.graphql.cache import SchemaCache
from nentang.kernel.graphql.served import SetKey


@dataclass(eq=False)
class FakeServed:
    """What the cache reads of a ServedSchema."""

    key: SetKey
    left_out: dict[str, tuple[str, ...]] = field(default_factory=dict)
    built_at: float = field(default_factory=time.monotonic)

    @property
    def degraded(self) -> bool:
        return bool(self.left_out)


def key(*plugins: str) -> SetKey:
    return frozenset((p, "0.1.0") for p in plugins)


def test_concurrent_requests_for_an_unseen_set_wait_for_one_build() -> None:
    calls: list[SetKey] = []
    started = threading.Event()

    def slow_build(k: SetKey) -> FakeServed:
        calls.append(k)
        started.set()
        time.sleep(0.2)
        return FakeServed(k)

    cache = SchemaCache(slow_build, max_sets=8, retry_after=60)  # type: ignore[arg-type]
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(key("forms")))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [key("forms")] and len({id(r) for r in results}) == 1 and cache.builds == 1
    assert cache.get(key("forms")) is results[0]


def test_the_least_recently_used_set_is_dropped_past_the_bound() -> None:
    cache = SchemaCache(FakeServed, max_sets=2, retry_after=60)  # type: ignore[arg-type]
    a, b, c = cache.get(key("a")), cache.get(key("b")), cache.get(key("c"))
    assert cache.peek(key("a")) is None and cache.peek(key("b")) is b and cache.peek(key("c")) is c
    assert a is not cache.get(key("a"))  # built again on demand
    cache.close()


def test_prebuild_builds_in_the_background() -> None:
    cache = SchemaCache(FakeServed, max_sets=8, retry_after=60)  # type: ignore[arg-type]
    cache.prebuild(lambda: key("forms", "workflows"))
    cache.prebuild(lambda: None)  # nothing to build (an unknown tenant, say)
    cache.wait_idle()
    assert cache.peek(key("forms", "workflows")) is not None and len(cache) == 1
    cache.close()


def test_a_degraded_set_is_replaced_only_by_a_more_complete_build() -> None:
    outcomes = [{"forms": ("boom",), "reports": ("boom",)}, {"forms": ("boom",), "reports": ("boom",)}, {}]
    retried: list[int] = []
    cache = SchemaCache(
        lambda k: FakeServed(k, left_out=outcomes.pop(0)),  # type: ignore[arg-type]
        max_sets=8,
        retry_after=0,
        before_retry=lambda: retried.append(1),
    )
    first = cache.get(key("forms", "reports"))
    assert cache.peek(key("forms", "reports")) is first  # due: a retry is queued
    cache.wait_idle()
    assert cache.peek(key("forms", "reports")) is first  # the rebuild failed the same way: kept
    cache.wait_idle()
    recovered = cache.peek(key("forms", "reports"))
    assert recovered is not first and recovered is not None and not recovered.degraded
    assert len(retried) == 2
    cache.close()


def test_a_build_that_raises_reaches_the_request_and_caches_nothing() -> None:
    def broken(_k: SetKey) -> FakeServed:
        raise RuntimeError("the kernel schema itself is broken")

    cache = SchemaCache(broken, max_sets=8, retry_after=60)  # type: ignore[arg-type]
    try:
        cache.get(key())
    except RuntimeError as exc:
        assert "kernel schema" in str(exc)
    else:
        raise AssertionError("the build error was swallowed")
    assert len(cache) == 0
    cache.prebuild(lambda: key())  # in the background it is logged, and the thread lives on
    cache.prebuild(lambda: key("x"))
    cache.wait_idle()
    assert len(cache) == 0
    cache.close()
