"""``nentang plugin new``: the scaffold writes a plugin project that passes its own tests and the
contract suite straight away.

The end-to-end test installs the generated project the way its README says (``pip install -e``),
into a throwaway virtual environment that sees this one's packages (a ``.pth`` file adds this
environment's site-packages), so nothing is left installed here; then it runs the project's tests
with pytest and ``nentang sdk check`` in that environment, each in a process of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
import tomllib
import venv
from pathlib import Path

from typer.testing import CliRunner

from nentang.kernel.cli.main import app
from nentang.sdk import __version__ as sdk_version
from nentang.sdk.manifest import check_manifest
from nentang.sdk.policy import check_kernel_imports, check_package
from nentang.sdk.scaffold import api_range, names_for

runner = CliRunner()
NAME = "scaffolded"

EXPECTED_FILES = {
    "README.md",
    "pyproject.toml",
    "review.toml",
    f"src/nentang_{NAME}/__init__.py",
    f"src/nentang_{NAME}/graphql.py",
    f"src/nentang_{NAME}/migrations/__init__.py",
    f"src/nentang_{NAME}/migrations/{NAME}_0001_greeting.py",
    f"src/nentang_{NAME}/models.py",
    f"src/nentang_{NAME}/nentang-plugin.toml",
    f"src/nentang_{NAME}/pages.py",
    f"src/nentang_{NAME}/plugin.py",
    f"src/nentang_{NAME}/py.typed",
    f"src/nentang_{NAME}/service.py",
    f"src/nentang_{NAME}/templates/{NAME}_greetings.html",
    f"tests/test_{NAME}.py",
}


def new(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["plugin", "new", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_the_project_has_every_part_a_plugin_needs(tmp_path: Path) -> None:
    code, output = new(NAME, "--dir", str(tmp_path))
    assert code == 0, output
    root = tmp_path / f"nentang-{NAME}"
    assert f"created plugin '{NAME}' in {root}" in output and "nentang sdk check ." in output
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == EXPECTED_FILES
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    points = pyproject["project"]["entry-points"]
    assert points["nentang.plugins"] == {NAME: f"nentang_{NAME}.plugin"}
    assert points["nentang.migrations"] == {NAME: f"nentang_{NAME}.migrations"}
    assert f"nentang-sdk{api_range(sdk_version)}" in pyproject["project"]["dependencies"]
    manifest, findings = check_manifest(
        tomllib.loads((root / f"src/nentang_{NAME}/nentang-plugin.toml").read_text()),
        location="nentang-plugin.toml",
        distribution_version=pyproject["project"]["version"],
    )
    assert findings == [] and manifest is not None and manifest.api == api_range(sdk_version)
    assert {p.name for p in manifest.permissions} == {f"{NAME}.read", f"{NAME}.write"}
    review = tomllib.loads((root / "review.toml").read_text())
    assert review["plugin"] == NAME and {r["status"] for r in review["rules"]} <= {"done", "todo", "exempt"}
    assert check_kernel_imports(root) == []
    assert check_package(root / f"src/nentang_{NAME}", manifest.capabilities, requires=manifest.requires) == []
    text = "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert re.search(r"\{\{[A-Za-z]+\}\}", text) is None  # every placeholder replaced (Jinja's have spaces)


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    for bad in ("Forms", "x", "1forms", "kernel", "forms-new"):
        code, output = new(bad, "--dir", str(tmp_path))
        assert code == 1 and "error [scaffold.bad_name]" in output, (bad, output)
    assert new(NAME, "--dir", str(tmp_path))[0] == 0
    code, output = new(NAME, "--dir", str(tmp_path))
    assert code == 1 and "error [scaffold.exists]" in output
    assert list(tmp_path.iterdir()) == [tmp_path / f"nentang-{NAME}"]


def test_names_follow_the_plugin_name() -> None:
    names = names_for("civil_service", "0.1.0")
    assert (names.pascal, names.package, names.distribution) == (
        "CivilService",
        "nentang_civil_service",
        "nentang-civil-service",
    )
    assert (
        api_range("0.1.0") == ">=0.1,<0.2" and api_range("0.3.2") == ">=0.3,<0.4" and api_range("1.4.0") == ">=1.4,<2"
    )


def throwaway_environment(folder: Path) -> Path:
    """A virtual environment whose Python also sees this environment's packages; returns its python."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / ("Scripts" if os.name == "nt" else "bin") / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    (Path(site) / "_nentang_parent_environment.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    return python


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_generated_plugin_passes_its_tests_and_the_contract_suite(tmp_path: Path) -> None:
    assert new(NAME, "--dir", str(tmp_path))[0] == 0
    root = tmp_path / f"nentang-{NAME}"
    python = throwaway_environment(tmp_path / "venv")

    installed = run(
        python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
        "--quiet", "-e", str(root), cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    assert "10 passed" in tests.stdout

    server = os.environ.get("NENTANG_DATABASE_URL", "")
    on_postgres = ["--postgres", server] if server.startswith("postgresql") else []
    checked = run(python, "-m", "nentang.kernel.cli", "sdk", "check", ".", *on_postgres, cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr[-3000:]
    assert "result: PASSED" in checked.stdout and "SKIP" not in checked.stdout
