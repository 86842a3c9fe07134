"""The vendored front-end files are the pinned packages' files, as the lock records them.

``scripts/vendor_frontend.py --check`` runs offline; these tests run it on the repository and on
copies of it spoiled in the ways a hand edit or a half-done upgrade would."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "vendor_frontend.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_frontend", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["vendor_frontend"] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


vendor_frontend = load_script()


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--root", str(root)], capture_output=True, text=True, check=False
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The lock and every vendor folder, copied to a tree of their own."""
    lock = json.loads((ROOT / vendor_frontend.LOCK).read_text())
    for entry in lock["packages"]:
        for record in entry["files"]:
            target = tmp_path / record["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / record["path"], target)
    shutil.copyfile(ROOT / vendor_frontend.LOCK, tmp_path / vendor_frontend.LOCK)
    return tmp_path


def test_the_committed_files_match_the_lock() -> None:
    done = run_check(ROOT)
    assert done.returncode == 0, done.stderr
    assert "7 files of 3 packages match" in done.stdout


def test_the_lock_pins_what_the_script_pins_with_registry_digests() -> None:
    lock = json.loads((ROOT / vendor_frontend.LOCK).read_text())["packages"]
    assert [(e["package"], e["version"]) for e in lock] == [(p.name, p.version) for p in vendor_frontend.PINS]
    for entry in lock:
        assert entry["integrity"].startswith("sha512-")
        assert entry["tarball"].endswith(f"-{entry['version']}.tgz")
        assert entry["licence"] in {"MIT", "0BSD", "MPL-2.0"}


def test_a_file_edited_by_hand_fails_the_check_naming_it(copy: Path) -> None:
    htmx = copy / "kernel/console/static/vendor/htmx.org/htmx.min.js"
    htmx.write_bytes(htmx.read_bytes() + b"\n// patched")
    done = run_check(copy)
    assert done.returncode == 1
    assert "kernel/console/static/vendor/htmx.org/htmx.min.js: SHA-256" in done.stderr


def test_a_stray_or_missing_file_fails_the_check(copy: Path) -> None:
    (copy / "kernel/console/static/vendor/htmx.org/extra.js").write_text("alert(1)")
    (copy / "tests/browser/vendor/axe-core/axe.min.js").unlink()
    done = run_check(copy)
    assert done.returncode == 1
    assert "htmx.org/extra.js: in a vendor folder but not in the lock" in done.stderr
    assert "axe-core/axe.min.js: in the lock but missing on disk" in done.stderr


def test_a_pin_changed_without_re_vendoring_fails_the_check(copy: Path) -> None:
    path = copy / vendor_frontend.LOCK
    lock = json.loads(path.read_text())
    lock["packages"][1]["version"] = "2.0.0"
    path.write_text(json.dumps(lock))
    done = run_check(copy)
    assert done.returncode == 1
    assert "htmx.org: pinned 2.0.11 but the lock has 2.0.0: re-vendor" in done.stderr


def test_a_missing_or_malformed_lock_is_named(copy: Path) -> None:
    (copy / vendor_frontend.LOCK).write_text("[]")
    assert "is not a vendor lock" in run_check(copy).stderr
    (copy / vendor_frontend.LOCK).unlink()
    done = run_check(copy)
    assert done.returncode == 1
    assert "VENDOR.lock.json is missing" in done.stderr


def test_the_component_base_ships_without_gov_uk_brand_assets() -> None:
    css = (ROOT / "kernel/console/static/vendor/govuk-frontend/govuk-frontend.min.css").read_text()
    assert "GDS Transport" not in css and "@font-face" not in css
    assert "govuk-crest" not in css and "/assets/" not in css
    assert vendor_frontend.SYSTEM_FONTS in css


def test_unbranding_refuses_a_stylesheet_with_a_brand_asset_it_does_not_know() -> None:
    with pytest.raises(vendor_frontend.VendorError, match=r"still names \['/assets/'\]"):
        vendor_frontend.unbrand_govuk_css(".x{background:url(/assets/images/new-logo.svg)}")
