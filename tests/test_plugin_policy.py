"""The plugin policy (``nentang.sdk.policy``) on the hostile corpus, through both of its callers.

The review's static stage (``nentang.sandbox.static.check_package``) and the contract suite
(``nentang sdk check``) run the same policy; every corpus sample and every variant must be refused
with its specific code at its file and line by both, and the first-party plugins pass both.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nentang.kernel.cli.main import app
from nentang.sandbox.static import check_package as review_static
from nentang.sdk import __version__ as sdk_version
from nentang.sdk.policy import allowance, check_package
from nentang.sdk.scaffold import render_plugin
from tests.policy_corpus import CLEAN, CORPUS, VARIANTS

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {**CORPUS, **VARIANTS}
POSTGRES = os.environ.get("NENTANG_DATABASE_URL", "")


def package_with(tmp_path: Path, files: dict[str, str], name: str = "nentang_plugin") -> Path:
    package = tmp_path / name
    for rel, source in {"__init__.py": "", "helpers.py": "def _private():\n    return 1\n", **files}.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(textwrap.dedent(source))
    return package


def review_codes(package: Path, capabilities: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> set[str]:
    found = review_static(package, allowance(capabilities), requires=requires)
    assert all(f.check == "static" for f in found)
    return {f.code for f in found if f.severity == "error"}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_each_sample_is_refused_by_the_review_with_its_code_and_line(tmp_path: Path, sample: str) -> None:
    source, code = SAMPLES[sample]
    package = package_with(tmp_path, {f"{sample}.py": source})
    found = review_static(package, allowance(()))
    hits = [f for f in found if f.code == code]
    assert hits, f"{sample}: expected {code}, found {sorted({f.code for f in found})}"
    lines = source.splitlines()
    for hit in hits:
        path, line = hit.location.rsplit(":", 1)
        assert path == f"nentang_plugin/{sample}.py" and 1 <= int(line) <= len(lines), hit
        assert hit.severity == "error" and len(hit.message) > 20


def test_look_alike_names_of_the_plugins_own_are_not_findings(tmp_path: Path) -> None:
    package = package_with(tmp_path, {"plugin.py": CLEAN})
    assert check_package(package) == []


def test_every_first_party_plugin_passes_the_policy() -> None:
    goodnotes = ROOT / "tests/hostile_plugins/goodnotes/nentang_goodnotes"
    packages = [*sorted(ROOT.glob("plugins/examples/*/nentang_*")), goodnotes]
    assert len(packages) >= 6
    for package in packages:
        manifest = tomllib.loads((package / "nentang-plugin.toml").read_text(encoding="utf-8"))
        found = check_package(package, manifest.get("capabilities", []), requires=manifest.get("requires", {}))
        assert found == [], [str(f) for f in found]


def test_a_required_plugin_is_importable_but_not_its_private_names(tmp_path: Path) -> None:
    package = package_with(tmp_path, {"uses.py": "from nentang_feedback import api\nx = api.page\n"})
    assert review_codes(package) == {"static.plugin_import"}
    assert review_codes(package, requires=("feedback",)) == set()
    private = package_with(tmp_path, {"uses.py": "from nentang_feedback.api import _aware\n"}, name="nentang_other")
    assert review_codes(private, requires=("feedback",)) == {"static.private_attribute"}


def test_capabilities_allow_exactly_what_they_declare(tmp_path: Path) -> None:
    package = package_with(tmp_path, {"net.py": "import httpx\nimport os\nKEY = os.environ.get('FORMS_KEY')\n"})
    assert review_codes(package) == {"static.network_import", "static.env_read"}
    assert review_codes(package, ("http:outbound:lgsp.example.vn", "env:FORMS_KEY")) == set()
    assert review_codes(package, ("http:outbound:lgsp.example.vn", "env:OTHER")) == {"static.env_read"}


def test_migrations_may_use_alembic_and_their_sql_is_a_warning(tmp_path: Path) -> None:
    migration = (
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "def upgrade():\n    op.create_table('plugin_t', sa.Column('tenant_id', sa.Integer))\n"
        "    op.execute('CREATE INDEX i ON plugin_t (tenant_id)')\n    t = sa.table('plugin_t')\n"
    )
    package = package_with(tmp_path, {"migrations/p0001.py": migration})
    found = check_package(package)
    assert {(f.code, f.severity) for f in found} == {("static.migration_sql", "warning")}
    assert {f.location for f in found} == {
        "nentang_plugin/migrations/p0001.py:5",
        "nentang_plugin/migrations/p0001.py:6",
    }
    outside = package_with(tmp_path, {"logic.py": "from alembic import op\n"}, name="nentang_outside")
    assert {f.code for f in check_package(outside)} == {"static.import_not_allowed"}


@pytest.mark.parametrize(
    "broken",
    ["def broken(:\n    pass\n", "x = 1\x00\n", b"\xff\xfe not utf-8 = 1\n"],
    ids=["syntax", "null-byte", "bad-encoding"],
)
def test_a_file_that_does_not_parse_is_a_finding_not_a_crash(tmp_path: Path, broken: str | bytes) -> None:
    package = package_with(tmp_path, {"good.py": "import os\nos.system('id')\n"})
    target = package / "broken.py"
    target.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
    found = review_static(package, allowance(()))
    syntax = [f for f in found if f.code == "static.syntax"]
    assert len(syntax) == 1 and syntax[0].location.startswith("nentang_plugin/broken.py:"), found
    assert "static.file_access" in {f.code for f in found}  # the other files are still read


# -- the developer's own check runs the same policy ---------------------------------------------------


@pytest.mark.usefixtures("restored_logging")
def test_nentang_sdk_check_reports_the_same_findings_as_the_review(tmp_path: Path) -> None:
    name = f"pol{os.getpid() % 10_000}"
    root = render_plugin(name, tmp_path, sdk_version=sdk_version)
    src = root / "src" / f"nentang_{name}"
    for sample, (source, _) in SAMPLES.items():
        (src / f"corpus_{sample}.py").write_text(source)
    (src / "corpus_broken.py").write_text("def broken(:\n")
    on_postgres = POSTGRES.startswith("postgresql")
    command = ["sdk", "check", str(root), "--json", *(["--postgres", POSTGRES] if on_postgres else [])]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    static = {(f["code"], f["location"].removeprefix("src/")) for f in report["findings"] if f["check"] == "static"}
    review = {(f.code, f.location) for f in review_static(src, allowance(()))}
    assert static == review
    for sample, (_, code) in SAMPLES.items():
        assert any(c == code and where.startswith(f"nentang_{name}/corpus_{sample}.py:") for c, where in static), sample
    assert ("static.syntax", f"nentang_{name}/corpus_broken.py:1") in static
    assert {r["check"]: r["status"] for r in report["results"]}["static"] == "failed"
    assert report["ok"] is False


def test_the_developer_guide_lists_what_the_policy_allows() -> None:
    from nentang.sdk.policy._imports import LIMITED, STDLIB, THIRD_PARTY
    from nentang.sdk.policy._sql import ALLOWED_FUNCTIONS

    guide = (ROOT / "docs" / "plugin-policy.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w.]+)`", guide))
    missing = (STDLIB | set(LIMITED) | THIRD_PARTY | ALLOWED_FUNCTIONS) - listed
    missing |= {name for names in LIMITED.values() for name in names if name not in guide}
    assert not missing, f"docs/plugin-policy.md does not list {sorted(missing)}"
