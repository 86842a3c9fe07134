"""The contract suite: what every NenTang plugin must do, checked on a real kernel.

Run it on a plugin project folder or an installed plugin's name::

    nentang sdk check path/to/nentang-forms          # command line; exit status 1 on any failure
    @pytest.mark.nentang_contract("forms")           # in the plugin's tests (fails with the codes)
    check_plugin("path/to/nentang-forms").ok         # in code

It builds a kernel on an empty throwaway database (SQLite; PostgreSQL when a server URL is given),
with the kit's tree TW → 01 → {00001, 00002}, and runs every check; a failing check never stops the
others, and every problem is reported with a stable code:

==========================  =====================================================================
check                       codes
==========================  =====================================================================
``manifest``                ``contract.source``, ``contract.manifest`` (the manifest's own finding
                            code is in the message)
``static``                  the plugin policy (:mod:`nentang.sdk.policy`, the same code as the
                            review's static stage): ``static.import_not_allowed``,
                            ``static.private_attribute``, ``static.raw_sql``, ... at ``file:line``;
                            ``static.kernel_import`` also in the project's other files (tests)
``permissions``             ``contract.permission_undeclared`` — checked in code, not declared in
                            the manifest; ``contract.permission_unused`` — declared, never checked;
                            ``contract.permission_dynamic`` (warning) — a check the scan cannot read
``settings_schema``         ``contract.settings_schema`` — not a valid JSON Schema of an object;
                            ``contract.settings_example`` — no settings (``{}`` or the schema's
                            first ``examples`` entry) validate, so nothing can enable the plugin
``migrations``              ``contract.migration_failed`` — its migrations do not apply to an empty
                            database; ``contract.migration_branch`` — not a branch of its own
                            (``branch_labels = ("<name>",)``, ``depends_on = "kernel"``)
``load``                    ``contract.not_discovered``, ``contract.quarantined`` — the kernel does
                            not find, import or register the plugin (the reason is in the message)
``tables``                  ``contract.table_not_migrated`` — a mapped class whose table the
                            plugin's migrations do not create;
                            ``contract.table_not_tenant_owned`` — a table without ``tenant_id``
                            first in its primary key (with a foreign key to the tenant table), or a
                            mapped class not derived from ``TenantOwned``;
                            ``contract.table_rls_missing`` — PostgreSQL row-level security is off;
                            ``contract.isolation`` — a row written at one tenant is seen at another;
                            ``contract.isolation_untested`` (warning) — no sample row could be made
``hooks_silent``            ``contract.hook_while_disabled`` — a hook of the plugin ran for a
                            tenant where it is not enabled (called through the kernel's dispatcher,
                            and by event delivery); ``contract.hook_failed`` — its event handler
                            raised on an event it does not handle (it must ignore those)
``lifecycle``               ``contract.enable_failed``, ``contract.disable_failed``,
                            ``contract.reenable_failed``; ``contract.data_lost`` — rows written
                            while enabled are gone after disable → enable
``graphql``                 ``contract.graphql_leak`` — its fields exist where it is not enabled;
                            ``contract.graphql_missing`` — it contributes, yet its fields are
                            missing where it is enabled (left out of the schema: see the log)
``console``                 ``contract.console_leak`` — its console pages exist where it is not
                            enabled, or after it was disabled; ``contract.console_missing``
                            (warning) — it implements ``nentang_http_console_pages`` yet has no
                            valid page where it is enabled
==========================  =====================================================================

A check that cannot run says why (``skipped``): no GraphQL in this kernel, no tables, an earlier
step failed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, final

from nentang.sdk.manifest import Finding

Status = Literal["passed", "failed", "skipped"]
Severity = Literal["error", "warning"]

#: The checks in the order they run and are reported.
CHECKS: Final = (
    "manifest",
    "static",
    "permissions",
    "settings_schema",
    "migrations",
    "load",
    "tables",
    "hooks_silent",
    "lifecycle",
    "graphql",
    "console",
)


@final
@dataclass(frozen=True, slots=True)
class ContractFinding:
    """One problem: a stable code, the check that found it, where, and what to do."""

    check: str
    code: str
    location: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"[{self.code}] {self.location}: {self.message}"


@final
@dataclass(frozen=True, slots=True)
class CheckResult:
    """How one check ended. ``detail`` says what was checked, or why it was skipped."""

    check: str
    status: Status
    detail: str = ""


@final
@dataclass
class ContractReport:
    """Every check's outcome and every finding for one plugin."""

    #: The plugin's name ("" when it could not even be located).
    plugin: str
    #: What was checked: the project folder, or the installed plugin's name.
    target: str
    findings: list[ContractFinding] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No finding of severity ``error``."""
        return not self.errors

    @property
    def errors(self) -> list[ContractFinding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def codes(self) -> list[str]:
        """The codes of the error findings, sorted, each once."""
        return sorted({f.code for f in self.errors})

    def result(self, check: str) -> CheckResult | None:
        return next((r for r in self.results if r.check == check), None)

    def text(self) -> str:
        """The report as people read it (what ``nentang sdk check`` prints)."""
        lines = [f"contract suite for plugin {self.plugin or '?'} ({self.target})"]
        width = max(len(c) for c in CHECKS)
        for result in self.results:
            mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[result.status]
            lines.append(f"  {mark}  {result.check:<{width}}  {result.detail}".rstrip())
            for finding in self.findings:
                if finding.check == result.check:
                    prefix = "warning " if finding.severity == "warning" else ""
                    lines.append(f"          {prefix}{finding}")
        errors = self.errors
        checks = len({f.check for f in errors})
        verdict = "PASSED" if not errors else f"FAILED ({len(errors)} problem(s) in {checks} check(s))"
        lines.append(f"result: {verdict}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "target": self.target,
            "ok": self.ok,
            "results": [asdict(r) for r in self.results],
            "findings": [asdict(f) for f in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


class Collector:
    """Gathers findings and one result per check while the suite runs."""

    def __init__(self, report: ContractReport) -> None:
        self.report = report

    def add(self, check: str, code: str, location: str, message: str, severity: Severity = "error") -> None:
        finding = ContractFinding(check, code, location, message, severity)
        if finding not in self.report.findings:
            self.report.findings.append(finding)

    def manifest_findings(self, findings: list[Finding]) -> None:
        for f in findings:
            code = f.code if f.code.startswith("contract.") else "contract.manifest"
            message = f.message if code == f.code else f"{f.code}: {f.message}"
            self.add("manifest", code, f.location, message)

    def done(self, check: str, detail: str = "") -> None:
        """Close ``check``: failed if it has an error finding, else passed."""
        failed = any(f.check == check and f.severity == "error" for f in self.report.findings)
        self.report.results.append(CheckResult(check, "failed" if failed else "passed", detail))

    def skip(self, check: str, why: str) -> None:
        self.report.results.append(CheckResult(check, "skipped", why))

    def skip_rest(self, why: str) -> None:
        seen = {r.check for r in self.report.results}
        for check in CHECKS:
            if check not in seen:
                self.skip(check, why)

    def ordered(self) -> None:
        order = {c: i for i, c in enumerate(CHECKS)}
        self.report.results.sort(key=lambda r: order.get(r.check, len(order)))


def check_plugin(
    target: str | Path, *, postgres_url: str | None = None, workdir: str | Path | None = None
) -> ContractReport:
    """Run the whole contract suite on a plugin and return the report (never raises for a finding).

    :param target: a plugin project folder (with ``pyproject.toml``), or an installed plugin's name.
    :param postgres_url: a PostgreSQL server URL; the suite creates a throwaway database next to the
        one it names and drops it afterwards. ``None``: a throwaway SQLite file.
    :param workdir: where to keep scratch files (default: a temporary folder, removed afterwards).
    """
    from nentang.sdk.testing import _contract_run, _contract_static
    from nentang.sdk.testing._source import discoverable, locate

    report = ContractReport(plugin="", target=str(target))
    collect = Collector(report)
    source, problems = locate(target)
    if source is None:
        collect.manifest_findings(problems)
        collect.done("manifest", "the plugin could not be located")
        collect.skip_rest("the plugin could not be located")
        return report
    report.plugin = source.name
    manifest = _contract_static.run(source, collect)
    with _scratch(workdir) as scratch, discoverable(source, scratch):
        _contract_run.run(source, manifest, collect, scratch=scratch, postgres_url=postgres_url)
    collect.skip_rest("not reached")
    collect.ordered()
    return report


@contextmanager
def _scratch(workdir: str | Path | None) -> Iterator[Path]:
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nentang-contract-") as folder:
        yield Path(folder)


def settings_for_contract(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The settings the suite enables a plugin with: the schema's first ``examples`` entry, else
    ``{}`` — or ``None`` when neither validates."""
    from jsonschema import Draft202012Validator

    candidates: list[Any] = []
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        candidates.append(examples[0])
    candidates.append({})
    validator = Draft202012Validator(schema)
    for candidate in candidates:
        if isinstance(candidate, dict) and validator.is_valid(candidate):
            return dict(candidate)
    return None


__all__ = ["CHECKS", "CheckResult", "ContractFinding", "ContractReport", "check_plugin", "settings_for_contract"]
