"""bench/authz_scale.py, the report: one line per figure with its floor and target, and the last line."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from _authz_children import POLL_INTERVAL_S
from _support import met, ratio

if TYPE_CHECKING:  # _authz_measure imports this module to report as it measures
    from _authz_measure import Dist, Figures

DEFAULT_N = 2_000_000
#: Issue 3's targets (at 2,000,000 assignments).
READY_TARGET_S = 5.0
MEMORY_TARGET_MB = 300.0
P50_TARGET_US = 50.0
P99_TARGET_US = 1000.0
GRANT_TARGET_MS = 20.0
PROPAGATION_TARGET_MS = 1000.0
Say = Callable[[str], None]


def format_last_line(
    n: int,
    ready_s: float,
    mem_mb: float,
    p50_us: float,
    p99_us: float,
    grant_ms: float,
    propagate_ms: float,
    stock_n: int,
    stock_p50_us: float,
) -> str:
    return (
        f"authz: n={n} ready_s={ready_s:.3f} mem_mb={mem_mb:.1f} p50_us={p50_us:.2f} p99_us={p99_us:.2f} "
        f"grant_ms={grant_ms:.3f} propagate_ms={propagate_ms:.1f} stock_n={stock_n} stock_p50_us={stock_p50_us:.1f}"
    )


def setup_line(figures: Figures) -> str:
    b = figures.build
    return (
        f"setup: built in {b['total_s']:.1f} s (migrate + tree {b['tree_s']:.1f} s, admin + custom roles "
        f"{b['roles_s']:.1f} s, {figures.n} users {b['users_s']:.1f} s, {figures.n} grants + analyze "
        f"{b['grants_s']:.1f} s) — setup only, no target"
    )


def ready_line(f: Figures) -> str:
    return (
        f"ready: ready_s={f.ready_s:.3f} (create_kernel + start) floor_s={f.ready_floor_s:.4f} "
        f"(new engine + SELECT 1) ratio={ratio(f.ready_s, f.ready_floor_s):.1f} "
        f"target<={READY_TARGET_S:g}s: {met(f.ready_s <= READY_TARGET_S)}"
    )


def memory_line(f: Figures) -> str:
    per = (f.rss_warm_mb - f.rss_ready_mb) * 1024 / f.warmed if f.warmed else math.nan
    return (
        f"memory: mem_mb={f.mem_mb:.1f} (RSS {f.rss_before_mb:.1f} MB before create_kernel, {f.rss_ready_mb:.1f} "
        f"when ready, {f.rss_warm_mb:.1f} after a first check of {f.warmed} distinct principals; {f.cached} "
        f"cached; {per:.2f} KB per principal) floor_mb={f.mem_floor_mb:.1f} (plain dict of the same grants) "
        f"ratio={ratio(f.mem_mb, f.mem_floor_mb):.1f} target<={MEMORY_TARGET_MB:g}MB: "
        f"{met(f.mem_mb <= MEMORY_TARGET_MB)}"
    )


def check_line(label: str, d: Dist, *, targets: bool = False) -> str:
    line = (
        f"{label}: p50_us={d.p50:.2f} p99_us={d.p99:.2f} n={len(d.values)} floor p50_us={d.floor_p50:.2f} "
        f"p99_us={d.floor_p99:.2f} (dict lookup of a precomputed frozenset) ratio p50={ratio(d.p50, d.floor_p50):.1f} "
        f"p99={ratio(d.p99, d.floor_p99):.1f}"
    )
    if targets:
        line += (
            f" target p50<={P50_TARGET_US:g}us: {met(d.p50 <= P50_TARGET_US)}, "
            f"p99<={P99_TARGET_US:g}us: {met(d.p99 <= P99_TARGET_US)}"
        )
    return line


def cold_line(d: Dist) -> str:
    return (
        f"check cold (first check of a principal: one indexed query; information): p50_us={d.p50:.1f} "
        f"p99_us={d.p99:.1f} n={len(d.values)} floor p50_us={d.floor_p50:.1f} p99_us={d.floor_p99:.1f} "
        f"(the same query on a bare DB-API cursor) ratio p50={ratio(d.p50, d.floor_p50):.1f}"
    )


def grant_line(d: Dist, cpu: Dist) -> str:
    return (
        f"grant: grant_ms median={d.p50:.3f} p95={d.p95:.3f} n={len(d.values)} (authz.grant by an administrator, "
        f"checked, audited, committed; this thread's CPU median={cpu.p50:.3f} ms, the rest off-CPU: database "
        f"server, I/O, or waiting for a core) floor_ms median={d.floor_p50:.3f} (bare INSERT + COMMIT of one row) "
        f"ratio={ratio(d.p50, d.floor_p50):.1f} target<={GRANT_TARGET_MS:g}ms: {met(d.p50 <= GRANT_TARGET_MS)}"
    )


def propagation_line(d: Dist, dialect: str) -> str:
    how = "LISTEN on a bare connection" if dialect == "postgres" else f"bare poll of a row every {POLL_INTERVAL_S:g} s"
    return (
        f"propagation: propagate_ms median={d.p50:.1f} max={d.max:.1f} changes={len(d.values)} (grant then revoke, "
        f"seen by a second worker process) floor_ms median={d.floor_p50:.1f} max={d.floor_max:.1f} ({how}) "
        f"ratio max={ratio(d.max, d.floor_max):.1f} target<={PROPAGATION_TARGET_MS:g}ms: "
        f"{met(d.max <= PROPAGATION_TARGET_MS)}"
    )


def stock_line(a: dict[str, Any]) -> str:
    return (
        f"stock n={a['n']}: load_s={a['load_s']:.2f} rss_mb={a['rss_mb']:.1f} check p50_us={a['p50_us']:.1f} "
        f"(allowed {a['allowed_p50_us']:.1f}, denied {a['denied_p50_us']:.1f}) p99_us={a['p99_us']:.1f} "
        f"checks={a['checks']} policy_lines={a['policy_lines']}"
    )


def summary_lines(f: Figures, budget_s: float) -> list[str]:
    lines = []
    best = f.stock_best
    warm = f.warm_all
    if best is None:
        lines.append(f"stock: nothing loaded within the {budget_s:g} s budget ({f.stock_stop})")
    else:
        lines.append(f"stock: largest n loaded within {budget_s:g} s: {best['n']} ({f.stock_stop})")
        lines.append(
            f"ours vs stock (ours at n={f.n}, stock at n={best['n']}, stock checks at the user's own tenant only): "
            f"check p50 {warm.p50:.2f} vs {best['p50_us']:.1f} us (stock/ours={ratio(best['p50_us'], warm.p50):.0f}x, "
            f"stock/floor={ratio(best['p50_us'], warm.floor_p50):.0f}x); ready {f.ready_s:.3f} vs "
            f"{best['load_s']:.2f} s (stock/ours={ratio(best['load_s'], f.ready_s):.1f}x); memory {f.mem_mb:.1f} vs "
            f"{best['rss_mb']:.1f} MB (stock/ours={ratio(best['rss_mb'], f.mem_mb):.1f}x)"
        )
    w = f.wall
    lines.append(
        f"wall: {w['total']:.0f} s (setup {w['setup']:.0f} s, worker {w['worker']:.0f} s, stock {w['stock']:.0f} s); "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus"
    )
    scale = "" if f.n == DEFAULT_N else f" (targets are for n={DEFAULT_N}; this run has n={f.n})"
    verdicts = [
        ("ready", f.ready_s <= READY_TARGET_S),
        ("memory", f.mem_mb <= MEMORY_TARGET_MB),
        ("check p50", warm.p50 <= P50_TARGET_US),
        ("check p99", warm.p99 <= P99_TARGET_US),
        ("grant", f.grant.p50 <= GRANT_TARGET_MS),
        ("propagation", f.propagation.max <= PROPAGATION_TARGET_MS),
    ]
    lines.append("targets" + scale + ": " + ", ".join(f"{name} {met(ok)}" for name, ok in verdicts))
    lines.append(
        format_last_line(
            f.n,
            f.ready_s,
            f.mem_mb,
            warm.p50,
            warm.p99,
            f.grant.p50,
            f.propagation.max,
            best["n"] if best else 0,
            best["p50_us"] if best else math.nan,
        )
    )
    return lines
