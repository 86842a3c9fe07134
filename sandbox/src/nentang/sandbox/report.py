"""The review report: one value, written as JSON (for machines and CI) and Markdown (for people).

The verdict is ``pass`` only when every step ran and no finding has severity ``error``; otherwise
``fail``, with the error findings as the reasons. The report also carries what an approval needs
(wheel SHA-256, the digest of every installed file) and what an administrator will be asked to
grant (the declared permissions and role templates), and the time each step took.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

from nentang.sandbox.findings import CHECKS, ReviewFinding

#: Steps that must have run for a pass (a review that stopped early cannot pass).
REQUIRED_STEPS: Final = ("build", "install", "manifest", "static", "bandit", "contract")


@final
@dataclass(slots=True)
class Step:
    name: str
    seconds: float
    status: str = "ok"


@final
@dataclass(slots=True)
class ReviewReport:
    target: str
    started_at: str
    sdk_version: str
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    wheel: str = ""
    wheel_sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)
    files_digest: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    sandbox: list[str] = field(default_factory=list)
    findings: list[ReviewFinding] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    #: Finer timings measured inside the sandbox (``contract.migrate``, ...), part of their step's time.
    details: dict[str, float] = field(default_factory=dict)
    #: Captured output of the sandboxed runs (trimmed), for the reviewer.
    output: str = ""

    # -- verdict ------------------------------------------------------------------------------

    @property
    def errors(self) -> list[ReviewFinding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def missing_steps(self) -> list[str]:
        done = {s.name for s in self.steps if s.status == "ok"}
        return [s for s in REQUIRED_STEPS if s not in done]

    @property
    def verdict(self) -> str:
        return "pass" if not self.errors and not self.missing_steps else "fail"

    @property
    def reasons(self) -> list[str]:
        reasons = [f"{f.check}: {f.code} at {f.location} — {f.message}" for f in self.errors]
        reasons += [f"step {s!r} did not complete" for s in self.missing_steps]
        return reasons

    @property
    def checks_passed(self) -> list[str]:
        ran = {s.name.split(".")[0] for s in self.steps if s.status == "ok"} | {"sandbox", "limits", "trace"}
        failed = {f.check for f in self.errors}
        return [c for c in CHECKS if c in ran and c not in failed]

    @property
    def total_seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 2)

    def caught_by(self) -> dict[str, list[str]]:
        """Error codes by the check that raised them (what caught the plugin)."""
        out: dict[str, list[str]] = {}
        for finding in self.errors:
            out.setdefault(finding.check, [])
            if finding.code not in out[finding.check]:
                out[finding.check].append(finding.code)
        return out

    @property
    def permissions(self) -> list[dict[str, str]]:
        return list(self.manifest.get("permissions", []))

    @property
    def roles(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("roles", []))

    # -- writing ------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "target": self.target,
            "started_at": self.started_at,
            "sdk_version": self.sdk_version,
            "wheel": self.wheel,
            "wheel_sha256": self.wheel_sha256,
            "files_digest": self.files_digest,
            "files": self.files,
            "manifest": self.manifest,
            "permissions": self.permissions,
            "roles": self.roles,
            "capabilities": self.capabilities,
            "dependencies": self.dependencies,
            "checks_passed": self.checks_passed,
            "caught_by": self.caught_by(),
            "findings": [f.as_dict() for f in self.findings],
            "sandbox": self.sandbox,
            "timings": {s.name: s.seconds for s in self.steps},
            "timings_inside_sandbox": self.details,
            "steps": [{"name": s.name, "seconds": s.seconds, "status": s.status} for s in self.steps],
            "total_seconds": self.total_seconds,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        title = f"{self.plugin or '?'} {self.version}".strip()
        lines = [f"# Sandbox review: {title} — {self.verdict.upper()}", ""]
        lines += [
            f"- target: `{self.target}`",
            f"- reviewed: {self.started_at} against SDK {self.sdk_version}",
            f"- wheel: `{self.wheel}` sha256 `{self.wheel_sha256}`",
            f"- installed files digest: `{self.files_digest}` ({len(self.files)} files)",
            f"- total time: {self.total_seconds} s",
            "",
            "## Verdict",
            "",
        ]
        if self.verdict == "pass":
            lines.append("**pass** — every check ran and none found an error. Checks: " + ", ".join(self.checks_passed))
        else:
            lines.append("**fail** — reasons:")
            lines += [f"- {r}" for r in self.reasons]
        lines += ["", "## Findings", ""]
        if self.findings:
            lines += ["| severity | check | code | where | what |", "|---|---|---|---|---|"]
            lines += [
                f"| {f.severity} | {f.check} | `{f.code}` | `{f.location}` | {_cell(f.message)} |"
                for f in self.findings
            ]
        else:
            lines.append("None.")
        lines += ["", "## What an administrator will be asked to grant", ""]
        if self.permissions:
            lines += [f"- `{p.get('name')}` — {p.get('description', '')}" for p in self.permissions]
        else:
            lines.append("No permissions declared.")
        for role in self.roles:
            perms = ", ".join(f"`{p}`" for p in role.get("permissions", []))
            lines.append(f"- role template `{role.get('name')}` — {role.get('description', '')} ({perms})")
        lines += ["", "## Capabilities (beyond the tenant session)", ""]
        lines += [f"- `{c}`" for c in self.capabilities] or ["None declared."]
        lines += ["", "## Dependencies (as installed for the review)", ""]
        lines += [f"- `{d}`" for d in self.dependencies] or ["None beyond the kernel."]
        lines += ["", "## Sandbox", ""]
        lines += [f"- {d}" for d in self.sandbox] or ["Not run."]
        lines += ["", "## Timings", "", "| step | seconds | status |", "|---|---:|---|"]
        lines += [f"| {s.name} | {s.seconds:.2f} | {s.status} |" for s in self.steps]
        lines += [f"| ↳ {name} (inside the sandbox) | {seconds:.2f} | |" for name, seconds in self.details.items()]
        lines.append(f"| **total** | {self.total_seconds:.2f} | |")
        lines += ["", "## Installed files (SHA-256)", "", "| file | sha256 |", "|---|---|"]
        lines += [f"| `{path}` | `{digest}` |" for path, digest in sorted(self.files.items())]
        lines += ["", "## Manifest", "", "```json", json.dumps(self.manifest, indent=2, ensure_ascii=False), "```", ""]
        return "\n".join(lines)

    def write(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"review-{self.plugin or 'unknown'}-{self.version or '0'}"
        json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
        json_path.write_text(self.to_json(), encoding="utf-8")
        md_path.write_text(self.to_markdown(), encoding="utf-8")
        return json_path, md_path


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
