"""The review pipeline: build → install → manifest → static → bandit → contract → plugin tests.

:func:`review` runs every step it can, records each with its time, collects every finding, and
returns a :class:`~nentang.sandbox.report.ReviewReport`. A step that cannot produce what the
later steps need (no wheel, no installable package) ends the review with a ``fail``.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, final

import importlib_metadata

from nentang.kernel.plugins.approval import files_digest, installed_files
from nentang.kernel.plugins.discovery import Candidate, discover
from nentang.sandbox import bandit, environment, isolation, process, static, view
from nentang.sandbox.capabilities import allowance
from nentang.sandbox.findings import ReviewFinding
from nentang.sandbox.report import ReviewReport, Step
from nentang.sdk import __version__ as sdk_version
from nentang.sdk.manifest import MANIFEST_FILE


@final
@dataclass(frozen=True, slots=True)
class ReviewOptions:
    #: Where to build and run (default: a new temporary folder, removed afterwards).
    work_dir: Path | None = None
    #: Keep the work folder (the review environment, scratch, raw outputs) for inspection.
    keep: bool = False
    limits: isolation.Limits = field(default_factory=isolation.Limits)
    #: Paths of ``bwrap`` and ``unshare``; ``None`` means missing (tests use this to simulate a machine).
    bwrap: str | None = field(default_factory=lambda: isolation.find_tools()[0])
    unshare: str | None = field(default_factory=lambda: isolation.find_tools()[1])
    #: Run the plugin's own tests (a ``tests/`` folder next to its ``pyproject.toml``).
    plugin_tests: bool = True


def review(target: Path, options: ReviewOptions | None = None) -> ReviewReport:
    """Review a plugin source folder (with ``pyproject.toml``) or a built wheel."""
    options = options or ReviewOptions()
    target = target.resolve()
    report = ReviewReport(
        target=str(target), started_at=datetime.now(UTC).isoformat(timespec="seconds"), sdk_version=sdk_version
    )
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="nentang-review-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # the sandbox's user (nobody) reads the review environment
    try:
        _Review(target, options, report, work.resolve()).run()
    finally:
        if not options.keep and options.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return report


class _Review:
    def __init__(self, target: Path, options: ReviewOptions, report: ReviewReport, work: Path) -> None:
        self.target = target
        self.options = options
        self.report = report
        self.work = work

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        status = "ok"
        try:
            yield
        except environment.StepFailed as exc:
            status = "failed"
            self.report.findings.append(exc.finding)
            raise
        except Exception as exc:
            status = "failed"
            self.report.findings.append(
                ReviewFinding(name.split(".")[0], f"{name}.crashed", name, f"{type(exc).__name__}: {exc}"[:500])
            )
            raise environment.StepFailed(self.report.findings[-1]) from exc
        finally:
            self.report.steps.append(Step(name, round(time.perf_counter() - start, 3), status))

    def run(self) -> None:
        try:
            self._run()
        except environment.StepFailed:
            return

    def _run(self) -> None:
        report = self.report
        with self.step("build"):
            if self.target.is_dir():
                wheel = environment.build_wheel(self.target, self.work / "dist")
            elif self.target.suffix == ".whl" and self.target.is_file():
                (self.work / "dist").mkdir(exist_ok=True)
                wheel = Path(shutil.copy2(self.target, self.work / "dist" / self.target.name))
            else:
                raise environment.StepFailed(
                    ReviewFinding("build", "build.bad_target", str(self.target), "not a plugin folder nor a .whl file")
                )
            info = environment.wheel_info(wheel)
            report.wheel, report.wheel_sha256 = wheel.name, environment.sha256_file(wheel)
            report.distribution, report.version = info.distribution, info.version
        with self.step("install"):
            env = environment.create_environment(self.work / "venv")
            report.dependencies = environment.install(env, wheel)
        with self.step("manifest"):
            candidate = self._candidate(env, info)
            package_dir = candidate.package_dir
            if package_dir is None:
                raise environment.StepFailed(report.findings[-1])
            report.files = installed_files(package_dir)
            report.files_digest = files_digest(report.files)
            for stray in environment.stray_members(wheel, f"nentang_{report.plugin}"):
                report.findings.append(
                    ReviewFinding(
                        "manifest",
                        "manifest.stray_file",
                        stray,
                        "the wheel installs this outside its package: not covered by the approval's digests",
                    )
                )
        allowed = allowance(report.capabilities)
        label = f"nentang_{report.plugin}"
        with self.step("static"):
            requires = report.manifest.get("requires", {})
            requires = list(requires) if isinstance(requires, dict) else []
            report.findings += static.check_package(package_dir, allowed, requires=requires, label=label)
            report.findings += static.permission_usage(package_dir, report.manifest, label=label)
        with self.step("bandit"):
            report.findings += bandit.run_bandit(package_dir, label=label)
        self._sandboxed(env, package_dir, label)

    def _candidate(self, env: environment.ReviewEnvironment, info: environment.WheelInfo) -> Candidate:
        report = self.report
        with _on_path(env.site):
            candidates = discover(sdk_version, path=[str(env.site), *sys.path])
        self.candidates = candidates
        mine = [c for c in candidates if c.distribution == info.distribution]
        if not mine:
            report.findings.append(
                ReviewFinding(
                    "manifest",
                    "manifest.no_entry_point",
                    info.distribution,
                    "the wheel declares no entry point in the group 'nentang.plugins' "
                    '(name = "nentang_<name>.plugin")',
                )
            )
            raise environment.StepFailed(report.findings[-1])
        candidate = mine[0]
        report.plugin = candidate.name
        report.findings += [ReviewFinding("manifest", f.code, f.location, f.message) for f in candidate.findings]
        if candidate.package_dir is not None and (candidate.package_dir / MANIFEST_FILE).is_file():
            with contextlib.suppress(tomllib.TOMLDecodeError, UnicodeDecodeError):
                report.manifest = tomllib.loads((candidate.package_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        raw = report.manifest.get("capabilities", [])
        report.capabilities = [str(c) for c in raw] if isinstance(raw, list) else []
        for unknown in allowance(report.capabilities).unknown:
            report.findings.append(
                ReviewFinding(
                    "manifest",
                    "manifest.capability_unknown",
                    f"{MANIFEST_FILE}:capabilities",
                    f"{unknown!r} is not a capability the review knows (http:outbound:<host>, env:<NAME>)",
                )
            )
        if candidate.package_dir is None:
            report.findings.append(
                ReviewFinding(
                    "manifest", "manifest.no_package", candidate.name, f"package nentang_{candidate.name} missing"
                )
            )
        return candidate

    def _sandboxed(self, env: environment.ReviewEnvironment, package_dir: Path, label: str) -> None:
        report, options = self.report, self.options
        scratch, out = self.work / "scratch", self.work / "out"
        for folder in (scratch, out, scratch / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        sandbox = isolation.plan(
            work=self.work,
            scratch=scratch,
            out=out,
            bwrap=options.bwrap,
            unshare=options.unshare,
            limits=options.limits,
            imports=view.import_roots(env.python, scratch),
        )
        report.sandbox = sandbox.description
        report.findings += sandbox.findings
        canary, secret = f"CANARY{secrets.token_hex(8)}", f"SECRET{secrets.token_hex(8)}"
        job: dict[str, Any] = {
            "plugin": report.plugin,
            "package_dir": str(package_dir),
            "scratch": str(scratch),
            "out": str(out),
            "database": str(scratch / "review.db"),
            "plugin_path": [str(env.site), *self._required_plugins(report.plugin)],
            "capabilities": report.capabilities,
            "canary": canary,
            "secret_canary": secret,
        }
        env_vars = isolation.sandbox_env(scratch, secret)
        outputs: list[str] = []
        with self.step("contract"):
            outcome = process.run(
                sandbox, python=env.python, job={**job, "mode": "contract"}, out=out, scratch=scratch,
                limits=options.limits, env=env_vars,
            )  # fmt: skip
            self._collect(outcome, label, canary, secret)
            outputs.append(outcome.output)
        tests = self.target / "tests" if self.target.is_dir() else None
        if options.plugin_tests and tests is not None and tests.is_dir():
            with self.step("plugin_tests"):
                copy = scratch / "plugin_tests"
                shutil.copytree(tests, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
                outcome = process.run(
                    sandbox, python=env.python, job={**job, "mode": "tests", "tests_dir": str(copy)}, out=out,
                    scratch=scratch, limits=options.limits, env=env_vars,
                )  # fmt: skip
                self._collect(outcome, label, canary, secret)
                outputs.append(outcome.output)
        elif options.plugin_tests:
            report.findings.append(
                ReviewFinding(
                    "plugin_tests",
                    "plugin_tests.none",
                    "tests/",
                    "no tests/ folder next to pyproject.toml (a wheel ships none): only the contract suite ran",
                    "warning",
                )
            )
        report.output = "\n".join(outputs)[-20_000:]

    def _required_plugins(self, name: str) -> list[str]:
        """A folder where the sandbox's kernel discovers the plugins ``name`` requires, and only those.

        Each required plugin (and what it requires in turn) is installed in the kernel's environment
        next to every other plugin; copying just its ``.dist-info`` metadata into a folder of its own
        lets the kernel find it without loading the others. Its code is imported from where it is.
        """
        by_name = {c.name: c for c in self.candidates}
        wanted: list[str] = []
        pending = list(by_name[name].manifest.requires) if by_name.get(name) and by_name[name].manifest else []
        while pending:
            other = pending.pop()
            candidate = by_name.get(other)
            if other in wanted or candidate is None or other == name:
                continue
            wanted.append(other)
            pending.extend(candidate.manifest.requires if candidate.manifest else ())
        if not wanted:
            return []
        folder = self.work / "required"
        for other in wanted:
            dist = importlib_metadata.distribution(by_name[other].distribution)
            info = folder / f"{by_name[other].distribution.replace('-', '_')}-{dist.version}.dist-info"
            info.mkdir(parents=True, exist_ok=True)
            for part in ("METADATA", "entry_points.txt"):
                text = dist.read_text(part)
                if text is not None:
                    (info / part).write_text(text, encoding="utf-8")
        return [str(folder)]

    def _collect(self, outcome: process.RunOutcome, label: str, canary: str, secret: str) -> None:
        report = self.report
        seen = set(report.findings)
        for raw in outcome.findings:
            finding = ReviewFinding.from_dict(raw)
            if finding not in seen:
                report.findings.append(finding)
                seen.add(finding)
        whole_env = {e.get("location") for e in outcome.trace if e.get("detail") == "reads the whole environment"}
        for event in outcome.trace:
            if (
                event.get("code") == "trace.env_read"
                and event.get("location") in whole_env
                and event.get("detail") != "reads the whole environment"
            ):
                continue  # each variable of a whole-environment read says nothing more
            entry = f" ({event['entry']})" if event.get("entry") else ""
            finding = ReviewFinding(
                "trace",
                event.get("code", "trace.unknown"),
                f"{label}/{event.get('location', '?')}{entry}",
                f"{event.get('detail', '')} — not covered by a declared capability",
            )
            if finding not in seen:
                report.findings.append(finding)
                seen.add(finding)
        if canary in outcome.output:
            report.findings.append(
                ReviewFinding("contract", "contract.isolation", "output", "another tenant's canary data was printed")
            )
        if secret in outcome.output:
            report.findings.append(
                ReviewFinding("contract", "contract.secret_leak", "output", "a secret of the environment was printed")
            )
        report.details.update(outcome.timings)


#: ``sys.path`` is the process's: reviews running in threads take turns to change it.
_PATH_LOCK = threading.Lock()


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """Put the review environment first on ``sys.path`` while discovery looks (nothing is imported)."""
    with _PATH_LOCK:
        sys.path.insert(0, str(folder))
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(folder))
