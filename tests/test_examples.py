"""The example plugins under ``plugins/examples/`` stay real, complete and SDK-only.

Their behaviour is tested by their own tests (``plugins/examples/<area>/tests/``, collected by the
root ``pytest`` through ``testpaths``); this module holds the rules every example follows, so a
new example — or a new hook — cannot arrive without what a provincial developer copies from:

- one distribution per folder, installed (``python3 dev.py`` installs every ``plugins/**``), with a
  README, a manifest in Vietnamese and English, and tests;
- the entry point, the manifest and the package agree (``hello`` → ``nentang_hello``);
- plugin code imports ``nentang.sdk`` and nothing else of NenTang; another plugin only if the
  manifest requires it;
- every hook of ``nentang.sdk.hookspecs`` is implemented by at least one example;
- test file names are unique across ``plugins/`` (pytest imports them by base name).
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nentang.sdk import hookspecs
from nentang.sdk.manifest import MANIFEST_FILE, check_manifest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "plugins" / "examples"
FOLDERS = sorted(p.parent for p in EXAMPLES.glob("*/pyproject.toml"))


def _project(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _plugin_name(folder: Path) -> str:
    (name,) = _project(folder)["entry-points"]["nentang.plugins"]
    return str(name)


def _manifest(folder: Path) -> dict[str, Any]:
    package = folder / f"nentang_{_plugin_name(folder)}"
    return tomllib.loads((package / MANIFEST_FILE).read_text(encoding="utf-8"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _hookimpls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("nentang_")
        and any("hookimpl" in ast.unparse(d) for d in node.decorator_list)
    }


def test_there_are_examples() -> None:
    assert len(FOLDERS) >= 5, f"expected the five example plugins under {EXAMPLES}, found {FOLDERS}"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_an_example_is_a_complete_installed_distribution(folder: Path) -> None:
    project = _project(folder)
    name = _plugin_name(folder)
    package = folder / f"nentang_{name}"
    assert project["entry-points"]["nentang.plugins"][name].split(".")[0] == f"nentang_{name}"
    manifest, findings = check_manifest(
        _manifest(folder), location=str(package / MANIFEST_FILE), distribution_version=project["version"]
    )
    assert not findings, [str(f) for f in findings]
    assert manifest is not None and manifest.name == name
    assert (folder / "README.md").is_file(), f"{folder.name}: a README says what the example shows"
    assert list((folder / "tests").glob("test_*.py")), f"{folder.name}: examples are tests (tests/test_*.py)"
    migrations = project["entry-points"].get("nentang.migrations", {})
    assert set(migrations) <= {name}, "the migration branch's entry point carries the plugin's name"
    # installed as a distribution (dev.py installs every plugins/**/pyproject.toml in editable mode)
    assert importlib.metadata.version(project["name"]) == project["version"], (
        f"{project['name']} is not installed: run `python3 dev.py test` or `pip install -e {folder}`"
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_an_example_imports_the_sdk_only(folder: Path) -> None:
    name = _plugin_name(folder)
    allowed = {f"nentang_{name}", *(f"nentang_{dep}" for dep in _manifest(folder).get("requires", {}))}
    problems = []
    for path in sorted(folder.rglob("*.py")):
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "nentang" and not (module == "nentang.sdk" or module.startswith("nentang.sdk.")):
                problems.append(f"{path.relative_to(ROOT)}: imports {module} (plugins use nentang.sdk only)")
            elif top.startswith("nentang_") and top not in allowed:
                problems.append(f"{path.relative_to(ROOT)}: imports {module}, a plugin its manifest does not require")
    assert not problems, problems


def test_every_hook_has_an_example() -> None:
    hooks = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("nentang_")}
    implemented = set().union(*(_hookimpls(p) for folder in FOLDERS for p in folder.rglob("nentang_*/*.py")))
    missing = sorted(hooks - implemented)
    assert not missing, f"hooks without an example plugin under plugins/examples/ (convention 21): {missing}"


def test_a_plugin_dependency_has_an_example() -> None:
    assert any(_manifest(folder).get("requires") for folder in FOLDERS)


def test_test_file_names_are_unique_across_plugins() -> None:
    names = Counter(p.name for p in (ROOT / "plugins").rglob("test_*.py"))
    clashes = sorted(name for name, count in names.items() if count > 1)
    assert not clashes, f"pytest imports plugin tests by base name; rename these: {clashes}"
