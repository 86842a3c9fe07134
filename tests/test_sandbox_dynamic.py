"""The review's dynamic layer: it calls every GraphQL field and hook of the plugin, names the entry
point that misbehaved, shows the plugin only what it needs of the host, and names the limit that
fired. The reports come from the session's shared reviews (``tests/sandbox_samples.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from nentang.sandbox import ReviewReport
from tests.conftest import ON_POSTGRES
from tests.sandbox_samples import HostFile

pytestmark = [
    pytest.mark.skipif(
        shutil.which("bwrap") is None and not os.environ.get("CI"),
        reason="bubblewrap is not installed (apt-get install -y bubblewrap); CI installs it",
    ),
    pytest.mark.skipif(ON_POSTGRES, reason="a review does not use the database under test; the SQLite run covers it"),
]


def found(report: ReviewReport, code: str) -> list[tuple[str, str]]:
    return [(f.location, f.message) for f in report.errors if f.code == code]


def test_payloads_behind_query_fields_are_run_and_named_by_field(reviews: dict[str, ReviewReport]) -> None:
    report = reviews["gqlquery"]
    reads = found(report, "trace.file_read")
    assert any("(query gqlquery_status)" in where and "/proc/self/environ" in what for where, what in reads), reads
    # reached only through the nested input argument filter.where.host
    sockets = found(report, "trace.socket")
    assert sockets and all("(query gqlquery_search)" in where for where, _ in sockets), sockets
    assert any("198.51.100.9" in what for _, what in sockets)
    # a public field that acts only for anonymous callers: the review calls it signed out too
    assert any("(query gqlquery_hello)" in where and "/proc/self/cmdline" in what for where, what in reads), reads


def test_payloads_behind_mutations_are_run_and_a_crash_is_reported_by_field(reviews: dict[str, ReviewReport]) -> None:
    report = reviews["gqlmutation"]
    writes = found(report, "trace.file_write")
    assert any("(mutation gqlmutation_save)" in w and "/var/tmp/nentang-gqlmutation.txt" in m for w, m in writes)
    # reached only by a caller holding gqlmutation.write, with the nested argument options.overwrite
    assert any("(mutation gqlmutation_import)" in w and "payload.py" in m for w, m in writes), writes
    crashed = found(report, "graphql.crashed")
    assert [where for where, _ in crashed] == ["mutation gqlmutation_boom"], crashed
    assert "user with every permission" in crashed[0][1]


def test_payloads_inside_hooks_are_named_by_hook_and_proc_self_is_not_allowed(
    reviews: dict[str, ReviewReport],
) -> None:
    reads = found(reviews["hookpayload"], "trace.file_read")
    assert any("(hook nentang_event_received)" in w and "/proc/self/environ" in m for w, m in reads), reads
    assert any("(hook nentang_graphql_contribute)" in w and "/proc/self/maps" in m for w, m in reads), reads
    writes = found(reviews["hookpayload"], "trace.file_write")
    assert any("(hook nentang_plugin_disable)" in w and "nentang-hookpayload.txt" in m for w, m in writes), writes


def test_fields_that_answer_with_sdk_errors_are_not_findings(reviews: dict[str, ReviewReport]) -> None:
    """The control sample and the query sample refuse nothing unexpectedly: only the payloads count."""
    assert not found(reviews["gqlquery"], "graphql.crashed")
    assert not found(reviews["gqlquery"], "graphql.server_error")
    assert reviews["gqlquery"].details["contract.graphql_calls"] >= 4


def test_the_sandbox_shows_no_host_file_outside_its_binds(
    reviews: dict[str, ReviewReport], host_file: HostFile
) -> None:
    report = reviews["hostread"]
    assert host_file.path.read_text(encoding="utf-8") == host_file.marker  # there on the host
    assert host_file.marker not in report.output
    for folder in ("/var/tmp", "/home", "/srv"):
        assert f"HOSTREAD {folder}: FileNotFoundError" in report.output, report.output[-2000:]
    # /root exists inside only when Python is installed under it, and then shows only that path
    python = Path(sys.base_prefix).resolve()
    inside = [python.relative_to("/root").parts[0]] if Path("/root") in python.parents else None
    assert f"HOSTREAD /root: {inside if inside else 'FileNotFoundError'}" in report.output
    for path in ("/etc/shadow", "/etc/hostname", "/etc/passwd"):
        assert f"HOSTREAD {path}: FileNotFoundError" in report.output
    reads = [what for _, what in found(report, "trace.file_read")]
    assert any("/etc/shadow" in what for what in reads), reads


def test_limits_are_reported_as_the_limit_that_fired_at_the_entry_point_running(
    reviews: dict[str, ReviewReport],
) -> None:
    assert [w for w, _ in found(reviews["cpuspin"], "limits.cpu")] == ["hook nentang_event_received"]
    # A resolver that never answers meets the platform's own deadline (the watchdog) before the
    # review's wall clock: the finding names the field. (The wall clock's own reading is tested
    # in test_sandbox_limits.py.)
    assert [w for w, _ in found(reviews["sleeper"], "graphql.timeout")] == ["mutation sleeper_wait"]
    assert found(reviews["hog"], "limits.memory")
    for name in ("cpuspin", "sleeper", "hog"):
        assert not found(reviews[name], "limits.crashed")
