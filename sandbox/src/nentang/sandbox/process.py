"""Running the sandboxed process, and saying which limit stopped it when it left no result.

The process is waited for with ``wait4`` so that its CPU time (with that of the processes it
waited for) is known even when it was killed: a kill by ``SIGXCPU`` or, past the hard limit, by
``SIGKILL`` after using its CPU allowance is ``limits.cpu``; a kill by the review's clock is
``limits.timeout``; a ``MemoryError`` or any other ``SIGKILL`` is ``limits.memory``. bubblewrap
passes a killed child's signal on as the exit status ``128 + signal``; both forms are read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

if TYPE_CHECKING:
    from nentang.sandbox.isolation import Limits, Sandbox

#: Where the tracer leaves the entry point running now (read when a limit killed the process).
ENTRY_FILE: Final = "entry.txt"


@final
@dataclass(frozen=True, slots=True)
class RunOutcome:
    findings: list[dict[str, Any]]
    trace: list[dict[str, str]]
    timings: dict[str, float]
    output: str
    returncode: int
    seconds: float


@final
@dataclass(frozen=True, slots=True)
class Ending:
    """How the process ended: its exit status, CPU seconds used, and whether the clock killed it."""

    returncode: int
    cpu_seconds: float
    timed_out: bool
    seconds: float


def run(
    sandbox: Sandbox,
    *,
    python: Path,
    job: dict[str, Any],
    out: Path,
    scratch: Path,
    limits: Limits,
    env: dict[str, str],
) -> RunOutcome:
    """Run the runner in the sandbox with ``job``; collect its results, trace and output."""
    job = {**job, "limits": {k: v for k, v in asdict(limits).items() if k != "wall_seconds"}}
    if sandbox.owner is None:
        job["limits"]["processes"] = 0
    job_file = out / f"job-{job['mode']}.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    for name in ("result.json", "trace.jsonl", ENTRY_FILE):
        (out / name).unlink(missing_ok=True)
    if sandbox.owner is not None:
        for folder in (scratch, out):
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, sandbox.owner, sandbox.owner)
    command = [*sandbox.prefix, str(python), "-m", "nentang.sandbox.runner", str(job_file)]
    log = out.parent / f"output-{job['mode']}.log"  # outside the folder the plugin may write
    ending = _wait(command, log, env=env, cwd=scratch, wall_seconds=limits.wall_seconds)
    output = log.read_text(encoding="utf-8", errors="replace")
    if ending.timed_out:
        output += f"\n[killed after {limits.wall_seconds:.0f} s]"
    result_file, trace_file = out / "result.json", out / "trace.jsonl"
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else {}
    trace = []
    if trace_file.exists():
        for line in trace_file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                trace.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    findings = list(result.get("findings", []))
    if not result:
        entry = out / ENTRY_FILE
        running = entry.read_text(encoding="utf-8", errors="replace")[:200] if entry.exists() else ""
        findings.append(died(ending, limits, output, where=running or "sandbox"))
    return RunOutcome(findings, trace, dict(result.get("timings", {})), output, ending.returncode, ending.seconds)


def _wait(command: list[str], log: Path, *, env: dict[str, str], cwd: Path, wall_seconds: float) -> Ending:
    start = time.perf_counter()
    timed_out = threading.Event()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=cwd)

        def kill() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(wall_seconds, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        returncode = os.waitstatus_to_exitcode(status)
        process.returncode = returncode  # reaped here: Popen must not wait for it again
    return Ending(returncode, usage.ru_utime + usage.ru_stime, timed_out.is_set(), time.perf_counter() - start)


def died(ending: Ending, limits: Limits, output: str, *, where: str = "sandbox") -> dict[str, Any]:
    """The finding for a process that left no result; ``where``: the entry point that was running."""
    code = ending.returncode
    killed_by = -code if code < 0 else code - 128 if code > 128 else 0
    if ending.timed_out:
        name, message = "limits.timeout", f"killed after {limits.wall_seconds:.0f} s of wall-clock time"
    elif killed_by == signal.SIGXCPU or "SIGXCPU" in output or ending.cpu_seconds >= limits.cpu_seconds:
        name, message = "limits.cpu", f"killed at the CPU limit ({limits.cpu_seconds} s of CPU time)"
    elif "MemoryError" in output or killed_by == signal.SIGKILL:
        name, message = "limits.memory", "killed or failed at the memory limit"
    elif output.startswith("bwrap:"):
        return {
            "check": "sandbox",
            "code": "sandbox.failed",
            "location": "sandbox",
            "message": f"bubblewrap could not start the sandbox: {output.strip()[:300]}",
            "severity": "error",
        }
    else:
        name, message = "limits.crashed", f"the sandboxed process died (status {code}) without a result"
    return {"check": "limits", "code": name, "location": where, "message": message, "severity": "error"}
