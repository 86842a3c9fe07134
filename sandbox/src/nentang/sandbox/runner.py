"""The sandboxed process: limits first, then the trace, then the contract suite or the plugin's tests.

Started by :mod:`nentang.sandbox.isolation` as ``python -m nentang.sandbox.runner JOB.json`` inside
the sandbox. Only the standard library is imported before the resource limits are set. Results go
to ``result.json`` in the job's output folder; the trace is appended to ``trace.jsonl`` there as it
happens, so a run killed by a limit still leaves its evidence.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, Final

#: System files any library may read (time zones, certificates, name resolution, MIME types).
#: Nothing under ``/proc``: the process's own environment, memory and maps are the platform's
#: secrets. What the interpreter reads there while starting happens before the trace is installed,
#: and the trace counts only what the plugin's own frames do.
HARMLESS_READS = [
    Path(p)
    for p in (
        "/usr/share",
        "/usr/lib",
        "/etc/ssl",
        "/etc/ca-certificates",
        "/etc/localtime",
        "/etc/timezone",
        "/etc/mime.types",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
        "/dev/urandom",
    )
]


def set_limits(limits: dict[str, int]) -> None:
    """Hard limits: the plugin cannot raise them again (it holds no privilege in the sandbox)."""
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU at the soft limit, SIGKILL at the hard
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("processes"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def main(argv: list[str]) -> int:
    job: dict[str, Any] = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    set_limits(job["limits"])
    started = time.perf_counter()
    out = Path(job["out"])
    timings: dict[str, float] = {}
    findings: list[dict[str, Any]] = []
    log = (out / "trace.jsonl").open("a", encoding="utf-8")
    try:
        tracer = _tracer(job, log)
        tracer.install()
        if job["mode"] == "contract":
            from nentang.sandbox.contract import ContractSuite

            findings = [f.as_dict() for f in ContractSuite(job, tracer, timings).run()]
            if not any(f["check"] == "limits" for f in findings):
                findings += _sdk_contract(job, timings)
        else:
            findings = _plugin_tests(job, timings)
    except MemoryError:
        findings.append(_limit("limits.memory", "the process ran out of memory under the sandbox's limit"))
    except RecursionError:
        findings.append(_limit("limits.recursion", "unbounded recursion"))
    finally:
        log.close()
    timings[f"{job['mode']}.total"] = round(time.perf_counter() - started, 3)
    result = {"findings": findings, "timings": timings}
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return 0


def _limit(code: str, message: str) -> dict[str, Any]:
    return {"check": "limits", "code": code, "location": "sandbox", "message": message, "severity": "error"}


#: Modules whose import at run time the trace reports (the static policy's allow-list refuses far
#: more; these are the ones that reach processes, sockets, native code, databases or code loaders).
TRACE_DENIED_MODULES: Final = frozenset(
    {"subprocess", "socket", "_socket", "ssl", "socketserver", "ctypes", "_ctypes", "cffi", "multiprocessing"}
    | {"concurrent", "pty", "signal", "sqlite3", "psycopg", "psycopg2", "pymysql", "importlib", "imp", "runpy"}
    | {"code", "codeop", "builtins", "marshal", "gc", "urllib", "http", "requests", "urllib3", "aiohttp"}
    | {"ftplib", "smtplib", "telnetlib", "xmlrpc"}
)


def _tracer(job: dict[str, Any], log: Any) -> Any:
    import nentang.kernel
    import nentang.sandbox
    import nentang.sdk
    from nentang.sandbox.capabilities import allowance
    from nentang.sandbox.process import ENTRY_FILE
    from nentang.sandbox.trace import Tracer

    allowed = allowance(job["capabilities"])
    readable = [Path(p) for p in sys.path if p and Path(p).is_dir()]
    readable += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), *HARMLESS_READS]
    trusted = [Path(next(iter(m.__path__))) for m in (nentang.kernel, nentang.sdk, nentang.sandbox)]
    return Tracer(
        package_dir=Path(job["package_dir"]),
        trusted_dirs=trusted,
        scratch=Path(job["scratch"]),
        readable=readable,
        denied_modules=[*TRACE_DENIED_MODULES, "httpx"],
        allows_host=allowed.allows_host,
        allows_env=allowed.allows_env,
        allows_module=allowed.allows_module,
        log=log,
        entry_file=Path(job["out"]) / ENTRY_FILE,
    )


def _sdk_contract(job: dict[str, Any], timings: dict[str, float]) -> list[dict[str, Any]]:
    """The SDK's own contract suite (``nentang.sdk.testing.check_plugin``) on the installed plugin.

    Its findings keep their codes; the location says which of its checks raised them. Where the
    SDK has no contract suite, a warning says the review ran only its own.
    """
    start = time.perf_counter()
    try:
        from nentang.sdk.testing.contract import check_plugin
    except ImportError:
        message = "this SDK has no contract suite (nentang.sdk.testing.contract): only the review's own ran"
        return [
            {"check": "contract", "code": "contract.sdk_suite_missing", "location": "sdk", "message": message}
            | {"severity": "warning"}
        ]
    try:
        report = check_plugin(job["plugin"], workdir=Path(job["scratch"]) / "sdk-contract")
    except MemoryError:
        return [_limit("limits.memory", "the process ran out of memory under the sandbox's limit (SDK suite)")]
    except Exception as exc:  # the suite itself broke: the review cannot vouch for what it did not check
        return [
            {
                "check": "contract",
                "code": "contract.sdk_suite_crashed",
                "location": "sdk",
                "message": f"{type(exc).__name__}: {exc}"[:500],
                "severity": "error",
            }
        ]
    finally:
        timings["contract.sdk_suite"] = round(time.perf_counter() - start, 3)
    return [
        {
            "check": "contract",
            "code": f.code,
            "location": f"sdk {f.check}: {f.location}",
            "message": f.message,
            "severity": f.severity,
        }
        for f in report.findings
    ]


def _plugin_tests(job: dict[str, Any], timings: dict[str, float]) -> list[dict[str, Any]]:
    import pytest

    tests = Path(job["tests_dir"])
    ini = Path(job["scratch"]) / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    start = time.perf_counter()
    code = pytest.main([str(tests), "-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(tests)])
    timings["plugin_tests.pytest"] = round(time.perf_counter() - start, 3)
    if code == 0:
        return []
    if code == 5:
        return [
            {
                "check": "plugin_tests",
                "code": "plugin_tests.none",
                "location": "tests/",
                "message": "the plugin's tests folder has no tests",
                "severity": "warning",
            }
        ]
    return [
        {
            "check": "plugin_tests",
            "code": "plugin_tests.failed",
            "location": "tests/",
            "message": f"the plugin's own tests failed (pytest exit status {int(code)}); see the output",
            "severity": "error",
        }
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
