"""The sandbox review end to end: a well-behaved plugin passes, each hostile sample is caught by
the check meant for it, approval binds to the installed bytes, and CI's first-party gate.

The samples are plugin source folders in ``tests/hostile_plugins/``; each is built, installed and
reviewed once per session (``reviews``, in ``tests/sandbox_samples.py``), and the tests read the reports.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.approval import load_registry
from nentang.sandbox import ReviewOptions, ReviewReport, append_approval, review
from nentang.sandbox.ci import check_first_party
from nentang.sdk.errors import Conflict, PermissionDenied, ValidationFailed
from tests.conftest import ON_POSTGRES, Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory
from tests.sandbox_samples import SAMPLES, sample_names

OPERATOR = Actor.command_line()

pytestmark = [
    # A developer's machine without bubblewrap skips these (the reason is shown); CI must have it.
    pytest.mark.skipif(
        shutil.which("bwrap") is None and not os.environ.get("CI"),
        reason="bubblewrap is not installed (apt-get install -y bubblewrap); CI installs it",
    ),
    # Reviews run a plugin in a sandbox of its own, never on the database under test; half a
    # minute of reviewing once per CI run is enough.
    pytest.mark.skipif(ON_POSTGRES, reason="a review does not use the database under test; the SQLite run covers it"),
]

#: What each hostile sample does, and the (check, code) pairs that must catch it.
HOSTILE = {
    # its text() never reaches the database: the runtime guard refuses it while the enable hook runs
    "rawsql": {("static", "static.raw_sql"), ("contract", "contract.enable_failed")},
    "netcall": {("static", "static.network"), ("trace", "trace.socket")},
    "spawner": {("static", "static.process"), ("trace", "trace.process")},
    "envsecret": {("static", "static.env_read"), ("trace", "trace.env_read"), ("contract", "contract.secret_leak")},
    "sneakyimport": {("static", "static.name_from_string"), ("trace", "trace.forbidden_import")},
    "escape": {("static", "static.file_access"), ("trace", "trace.file_write")},
    "hog": {("limits", "limits.memory")},
    "cpuspin": {("limits", "limits.cpu")},
    "sleeper": {("graphql", "graphql.timeout")},  # the platform's deadline fires before the review's clock
    "gqlquery": {("trace", "trace.file_read"), ("trace", "trace.socket")},
    "gqlmutation": {("trace", "trace.file_write"), ("graphql", "graphql.crashed")},
    "hookpayload": {("trace", "trace.file_read"), ("trace", "trace.file_write")},
    "hostread": {("trace", "trace.file_read")},
    "reacharound": {
        ("static", "static.private_attribute"),
        ("static", "static.name_from_string"),
        ("static", "static.sql_table_by_name"),
        ("static", "static.sql_function"),
        ("static", "static.bound_method_owner"),
    },
}


def errors(report: ReviewReport) -> set[tuple[str, str]]:
    return {(f.check, f.code) for f in report.errors}


# -- the control sample -------------------------------------------------------------------------


def test_a_well_behaved_plugin_passes_every_check_in_under_two_minutes(reviews: dict[str, ReviewReport]) -> None:
    report = reviews["goodnotes"]
    assert report.verdict == "pass", report.reasons
    assert [s.name for s in report.steps] == [
        "build",
        "install",
        "manifest",
        "static",
        "bandit",
        "contract",
        "plugin_tests",
    ]
    assert report.total_seconds < 120
    assert {"contract.lifecycle", "contract.total", "plugin_tests.pytest"} <= set(report.details)
    assert set(report.checks_passed) >= {"static", "bandit", "contract", "trace", "plugin_tests", "limits"}
    assert len(report.wheel_sha256) == 64 and "plugin.py" in report.files
    assert [p["name"] for p in report.permissions] == ["goodnotes.write"]
    assert any("bubblewrap" in line for line in report.sandbox)
    data = report.as_dict()
    assert data["verdict"] == "pass" and data["timings"]["contract"] > 0
    markdown = report.to_markdown()
    assert "— PASS" in markdown and "## Timings" in markdown and "goodnotes.write" in markdown


# -- hostile samples ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_sample_fails_and_the_report_names_the_check_that_caught_it(
    reviews: dict[str, ReviewReport], name: str
) -> None:
    report = reviews[name]
    assert report.verdict == "fail"
    missing = HOSTILE[name] - errors(report)
    assert not missing, f"{name}: not caught by {missing}; found {sorted(errors(report))}"
    for check, code in HOSTILE[name]:
        assert code in report.caught_by()[check]
        assert any(check in reason and code in reason for reason in report.reasons)
    assert report.to_markdown().startswith(f"# Sandbox review: {name} 0.1.0 — FAIL")


def test_every_sample_folder_is_the_control_or_a_hostile_sample_with_its_expected_findings() -> None:
    assert set(sample_names()) == {"goodnotes", *HOSTILE}


def test_trace_findings_point_at_the_plugin_line(reviews: dict[str, ReviewReport]) -> None:
    socket = [f for f in reviews["netcall"].errors if f.code == "trace.socket"]
    assert socket and all(f.location.startswith("nentang_netcall/plugin.py:") for f in socket)
    assert any("198.51.100.7" in f.message for f in socket)
    writes = [f.message for f in reviews["escape"].errors if f.code == "trace.file_write"]
    assert any("backdoor.py" in m for m in writes) and any("/var/tmp/nentang-escape.txt" in m for m in writes)


def test_a_failed_review_cannot_be_approved(reviews: dict[str, ReviewReport], tmp_path: Path) -> None:
    registry = tmp_path / "registry.toml"
    with pytest.raises(ValidationFailed, match="only a passed review"):
        append_approval(registry, reviews["netcall"], reviewer="tester")
    assert not registry.exists()


def test_without_bubblewrap_the_review_fails_and_says_what_is_missing(tmp_path: Path) -> None:
    report = review(SAMPLES / "goodnotes", ReviewOptions(work_dir=tmp_path, bwrap=None, plugin_tests=False))
    assert report.verdict == "fail"
    missing = [f for f in report.errors if f.code == "sandbox.no_bubblewrap"]
    assert missing and "apt-get install -y bubblewrap" in missing[0].message
    assert any("NOT read-only" in line for line in report.sandbox)


def test_a_built_wheel_is_reviewed_as_the_same_release(
    reviews: dict[str, ReviewReport], work_dirs: dict[str, Path], tmp_path: Path
) -> None:
    built = reviews["goodnotes"]
    report = review(work_dirs["goodnotes"] / "dist" / built.wheel, ReviewOptions(work_dir=tmp_path))
    assert report.verdict == "pass", report.reasons
    assert (report.wheel_sha256, report.files) == (built.wheel_sha256, built.files)
    assert "plugin_tests" not in [s.name for s in report.steps]  # a wheel ships no tests: a warning says so
    assert any(f.code == "plugin_tests.none" and f.severity == "warning" for f in report.findings)


# -- approval binds to the digest -----------------------------------------------------------------


def test_approval_binds_to_the_reviewed_bytes(
    reviews: dict[str, ReviewReport],
    work_dirs: dict[str, Path],
    plugin_factory: PluginFactory,
    make_kernel: KernelFactory,
    tree: Tree,
    tmp_path: Path,
) -> None:
    report = reviews["goodnotes"]
    registry = tmp_path / "registry.toml"  # the registry make_kernel's kernels read
    assert append_approval(registry, report, reviewer="Nguyễn Văn A") is True
    assert append_approval(registry, report, reviewer="Nguyễn Văn A") is False  # the same release: unchanged
    approval = load_registry(registry)[("goodnotes", "0.1.0")]
    assert approval.wheel_sha256 == report.wheel_sha256 and dict(approval.files) == report.files
    assert approval.reviewer == "Nguyễn Văn A" and "contract" in approval.checks
    assert approval.permissions == ("goodnotes.write",)
    # the wheel that was reviewed, installed the way production installs it
    wheel = work_dirs["goodnotes"] / "dist" / report.wheel
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile"]
    subprocess.run([*install, "--target", str(plugin_factory.root), str(wheel)], check=True, capture_output=True)
    plugin_factory.made.append("nentang_goodnotes")
    kernel = make_kernel(mode="production")
    loaded = kernel.plugins.host.plugins["goodnotes"]
    assert loaded.approval_warnings == ()
    # one byte changes in an installed file: the kernel refuses it, naming the file
    target = plugin_factory.root / "nentang_goodnotes" / "logic.py"
    target.write_bytes(target.read_bytes() + b"#")
    with pytest.raises(PermissionDenied) as refused:
        kernel.plugins.activation.enable(actor=OPERATOR, plugin="goodnotes", tenant_code="00001", checked=False)
    assert refused.value.code == "plugin.not_approved"
    assert "logic.py" in refused.value.message and "approval.file_modified" in refused.value.message


def test_a_released_version_is_never_approved_twice_with_other_files(
    reviews: dict[str, ReviewReport], tmp_path: Path
) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text("# approvals\nschema = 1\n", encoding="utf-8")
    report = reviews["goodnotes"]
    append_approval(registry, report, reviewer="tester")
    assert registry.read_text(encoding="utf-8").startswith("# approvals\nschema = 1\n\n[[approved]]\n")
    changed = dataclasses.replace(report, files={"plugin.py": "0" * 64})
    with pytest.raises(Conflict, match="publish a new version"):
        append_approval(registry, changed, reviewer="tester")


# -- CI gate and command line -----------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "plugins" / "goodnotes").mkdir(parents=True)
    (tmp_path / "plugins" / "goodnotes" / "pyproject.toml").write_text("", encoding="utf-8")
    yield tmp_path


def test_ci_requires_every_first_party_plugin_to_pass_and_be_approved_as_built(
    reviews: dict[str, ReviewReport], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = reviews["goodnotes"]
    assert check_first_party(repo, repo / "reports", review_one=lambda _: report) == 1
    assert "is not approved in registry.toml" in capsys.readouterr().out
    append_approval(repo / "registry.toml", report, reviewer="tester")
    assert check_first_party(repo, repo / "reports", review_one=lambda _: report) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    hostile = reviews["spawner"]
    assert check_first_party(repo, repo / "reports", review_one=lambda _: hostile) == 1


def test_ci_with_no_first_party_plugins_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_first_party(tmp_path, tmp_path / "reports") == 0
    assert "nothing to review" in capsys.readouterr().out


def test_nentang_review_reports_a_bad_target_and_exits_1(tmp_path: Path) -> None:
    from nentang.kernel.cli.main import app

    result = CliRunner().invoke(app, ["review", str(tmp_path / "nowhere"), "--report-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "build.bad_target" in result.output
    assert (tmp_path / "review-unknown-0.md").exists() and (tmp_path / "review-unknown-0.json").exists()
    refused = CliRunner().invoke(app, ["review", str(tmp_path), "--approve"])
    assert refused.exit_code == 2 and "--reviewer" in refused.output
