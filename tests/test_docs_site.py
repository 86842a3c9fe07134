"""The documentation site builds with ``mkdocs build --strict`` and documents the whole SDK.

``mkdocs.yml`` makes every problem a warning (a page missing from the nav, a broken link or anchor, a
missing snippet file) and ``--strict`` turns warnings into a failed build, so this one build holds
the site together. Beyond it: every public name of ``nentang.sdk`` and ``nentang.sdk.testing`` has
an entry in the generated API reference, every hook an entry in the hook reference, and every
example plugin a section on the examples page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nentang.sdk
import nentang.sdk.testing
from tests.test_docs_hooks import hook_functions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", "mkdocs.yml", "--site-dir", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    warnings = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert done.returncode == 0 and not warnings, f"mkdocs build --strict failed:\n{output[-6000:]}"
    return target


def _ids(site: Path, page: str) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', (site / page / "index.html").read_text(encoding="utf-8")))


def test_the_site_builds_strictly(site: Path) -> None:
    for page in ("index.html", "tutorial-vi/index.html", "tutorial-en/index.html", "reference/hooks/index.html"):
        assert (site / page).is_file(), page


@pytest.mark.parametrize(
    ("module", "page"), [(nentang.sdk, "reference/sdk"), (nentang.sdk.testing, "reference/testing")], ids=str
)
def test_every_public_name_has_an_api_reference_entry(site: Path, module: object, page: str) -> None:
    ids = _ids(site, page)
    names = [n for n in module.__all__ if not n.startswith("_")]  # type: ignore[attr-defined]
    missing = [n for n in names if f"{module.__name__}.{n}" not in ids]  # type: ignore[attr-defined]
    assert not missing, f"{page}: no reference entry for {missing}"


def test_every_hook_has_a_reference_entry_on_the_site(site: Path) -> None:
    ids = _ids(site, "reference/hooks")
    missing = [f.__name__ for f in hook_functions() if f.__name__.replace("_", "-") not in ids]
    assert not missing, f"reference/hooks: no entry for {missing}"


def test_every_example_plugin_has_a_section_on_the_examples_page() -> None:
    page = (ROOT / "docs" / "reference" / "examples.md").read_text(encoding="utf-8")
    folders = sorted(p.parent.name for p in (ROOT / "plugins" / "examples").glob("*/pyproject.toml"))
    missing = [f for f in folders if f"`plugins/examples/{f}/`" not in page]
    assert not missing, f"docs/reference/examples.md does not present plugins/examples/{missing}"
