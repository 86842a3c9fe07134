"""bench/authz_scale.py, the report: one line per figure with its floor and target, and the last line."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from _authz_children import POLL_INTERVAL_S
from _support import met, ratio

if TYPE_CHECKING:  # _authz_measure imports this module to report as it measures
    from _authz_measure import Dist, Figures
    from _authz_sets import SetFigures, Summary

DEFAULT_N = 2_000_000
#: Issue 14's targets (at 2,000,000 active principals; grant and propagation from issue 3).
READY_TARGET_S = 5.0
MEMORY_TARGET_MB = 300.0
P50_TARGET_US = 50.0
P99_TARGET_US = 1000.0
GRANT_TARGET_MS = 20.0
PROPAGATION_TARGET_MS = 1000.0
Say = Callable[[str], None]


def format_last_line(
    n: int,
    active: int,
    ready_s: float,
    mem_mb: float,
    p50_us: float,
    p99_us: float,
    pg_p50_us: float,
    pg_p99_us: float,
    grant_ms: float,
    propagate_ms: float,
    stock_p50_us: float,
) -> str:
    return (
        f"authz: n={n} active={active} ready_s={ready_s:.3f} mem_mb={mem_mb:.1f} p50_us={p50_us:.2f} "
        f"p99_us={p99_us:.2f} pg_p50_us={pg_p50_us:.2f} pg_p99_us={pg_p99_us:.2f} grant_ms={grant_ms:.3f} "
        f"propagate_ms={propagate_ms:.1f} stock_p50_us={stock_p50_us:.1f}"
    )


def setup_line(n: int, b: dict[str, float]) -> str:
    return (
        f"setup: built in {b['total_s']:.1f} s (migrate + tree {b['tree_s']:.1f} s, admin + custom roles "
        f"{b['roles_s']:.1f} s, {n} users {b['users_s']:.1f} s, {n} grants + analyze "
        f"{b['grants_s']:.1f} s) — setup only, no target"
    )


def ready_line(f: Figures) -> str:
    return (
        f"{f.dialect} ready: ready_s={f.ready_s:.3f} (create_kernel + start, which reads every grant: table built "
        f"in {f.build_s:.3f} s, {f.held} principals held, {f.table_bytes / 2**20:.1f} MB of arrays and interned "
        f"lists, {f.table_bytes / max(f.held, 1):.2f} bytes per principal) floor_s={f.ready_floor_s:.4f} "
        f"(new engine + SELECT 1) ratio={ratio(f.ready_s, f.ready_floor_s):.1f} "
        f"target<={READY_TARGET_S:g}s: {met(f.ready_s <= READY_TARGET_S)}"
    )


def set_line(f: Figures, s: SetFigures) -> str:
    w, c = s.warm, s.cold
    return (
        f"{f.dialect} active={s.active}: cold p50_us={c.p50:.2f} p99_us={c.p99:.2f} n={c.n} (first check of each "
        f"principal new to the set) warm p50_us={w.p50:.2f} p99_us={w.p99:.2f} n={w.n} (uniform over the set) "
        f"floor p50_us={w.floor_p50:.2f} p99_us={w.floor_p99:.2f} (dict lookup of a precomputed frozenset) "
        f"ratio p50={ratio(w.p50, w.floor_p50):.1f} rss_mb={s.rss_mb:.1f} verified={s.checked}"
    )


def memory_line(f: Figures) -> str:
    per = f.mem_mb * 2**20 / f.held if f.held else math.nan
    return (
        f"{f.dialect} memory: mem_mb={f.mem_mb:.1f} (RSS over the process's {f.rss_before_mb:.1f} MB before "
        f"create_kernel, at the largest working set; {f.rss_ready_mb - f.rss_before_mb:.1f} MB when ready) for "
        f"{f.held} principals held: {per:.1f} bytes of RSS per principal, of which the table "
        f"{f.table_bytes / max(f.held, 1):.2f} target<={MEMORY_TARGET_MB:g}MB: {met(f.mem_mb <= MEMORY_TARGET_MB)}"
    )


def miss_line(d: Summary, floor: Summary) -> str:
    return (
        f"miss path (a principal marked stale by a change, then checked: one indexed SELECT on a kept connection): "
        f"p50_us={d.p50:.1f} p99_us={d.p99:.1f} n={d.n} floor p50_us={floor.p50:.1f} p99_us={floor.p99:.1f} "
        f"(the same SELECT on a bare DB-API cursor) ratio p50={ratio(d.p50, floor.p50):.1f}"
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
        f"stock n={a['n']}: load_s={a['load_s']:.2f} rss_mb={a['rss_checked_mb']:.1f} "
        f"cold p50_us={a['cold_p50_us']:.1f} p99_us={a['cold_p99_us']:.1f} (a domain's first check) "
        f"warm p50_us={a['p50_us']:.1f} p99_us={a['p99_us']:.1f} "
        f"checks={a['checks']} (verified) policy_lines={a['policy_lines']}"
    )


def summary_lines(n: int, runs: dict[str, dict[str, float]], stock: list[dict[str, Any]], stop: str) -> list[str]:
    """The verdicts (each target on each database) and the last line."""
    lines = []
    best = stock[-1] if stock else None
    lite, pg = runs.get("sqlite", {}), runs.get("postgres", {})
    lines.append(f"stock: largest n loaded and checked: {best['n'] if best else 0} ({stop})")
    if best is not None and lite:
        lines.append(
            f"ours vs stock (ours at n={n} active={lite['active']:.0f}, stock at n={best['n']}; the same calls): "
            f"warm p50 {lite['p50_us']:.2f} vs {best['p50_us']:.1f} us "
            f"(stock/ours={ratio(best['p50_us'], lite['p50_us']):.0f}x)"
        )
    scale = "" if n == DEFAULT_N else f" (targets are for n=active={DEFAULT_N}; this run has n={n})"
    for dialect, r in runs.items():
        verdicts = [
            ("ready", r["ready_s"] <= READY_TARGET_S),
            ("memory", r["mem_mb"] <= MEMORY_TARGET_MB),
            ("check p50", r["p50_us"] <= P50_TARGET_US),
            ("check p99", r["p99_us"] <= P99_TARGET_US),
            ("grant", r["grant_ms"] <= GRANT_TARGET_MS),
            ("propagation", r["propagate_ms"] <= PROPAGATION_TARGET_MS),
        ]
        lines.append(f"targets {dialect}{scale}: " + ", ".join(f"{name} {met(ok)}" for name, ok in verdicts))
    both = [r for r in (lite, pg) if r]
    lines.append(
        format_last_line(
            n,
            int(min((r["active"] for r in both), default=0)),
            max((r["ready_s"] for r in both), default=math.nan),
            max((r["mem_mb"] for r in both), default=math.nan),
            lite.get("p50_us", math.nan),
            lite.get("p99_us", math.nan),
            pg.get("p50_us", math.nan),
            pg.get("p99_us", math.nan),
            max((r["grant_ms"] for r in both), default=math.nan),
            max((r["propagate_ms"] for r in both), default=math.nan),
            best["p50_us"] if best else math.nan,
        )
    )
    return lines
