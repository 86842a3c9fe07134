#!/usr/bin/env python3
"""Set up and run NenTang from a fresh clone, using nothing but Python 3.11+.

    python3 dev.py demo     # the platform on SQLite under ./var/, national tenant tree, demo admin
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)

Both create ``.venv/`` on first use and install the kernel, the SDK and the first-party
plugins into it in editable mode; later runs reuse it until a ``pyproject.toml`` changes.
Only the standard library is used here, because nothing else is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".nentang-installed"
MIN_PYTHON = (3, 11)


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def editable_projects() -> list[Path]:
    """The SDK first (the kernel depends on it), every plugin distribution, the review pipeline, the kernel."""
    plugins = sorted(p.parent for p in (ROOT / "plugins").glob("**/pyproject.toml"))
    return [ROOT / "sdk", *plugins, ROOT / "sandbox", ROOT]


def install_fingerprint(projects: list[Path]) -> str:
    digest = hashlib.sha256()
    for project in projects:
        digest.update(str(project).encode())
        digest.update((project / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ensure_environment() -> Path:
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"NenTang needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {sys.version.split()[0]}.")
    projects = editable_projects()
    fingerprint = install_fingerprint(projects)
    if STAMP.exists() and STAMP.read_text() == fingerprint and venv_python().exists():
        return venv_python()
    if not venv_python().exists():
        print(f"dev.py: creating {VENV.relative_to(ROOT)}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    python = str(venv_python())
    print("dev.py: installing the kernel, SDK and plugins (editable) ...", flush=True)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # Two steps: the kernel (with the SDK it depends on) first, then the distributions that depend
    # on the kernel; older pip cannot match `nentang` to an editable `.[dev]` in the same call.
    subprocess.run([*pip, "-e", str(ROOT / "sdk"), "-e", f"{ROOT}[dev]"], check=True)
    dependents = [p for p in projects if p not in (ROOT / "sdk", ROOT)]
    if dependents:
        subprocess.run([*pip, *(arg for p in dependents for arg in ("-e", str(p)))], check=True)
    STAMP.write_text(fingerprint)
    return venv_python()


def main(argv: list[str]) -> int:
    commands = {"demo", "test", "shell"}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    python = str(ensure_environment())
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return subprocess.call([python, "-m", "nentang.kernel.cli", "demo", *rest], cwd=ROOT)
    if command == "test":
        return subprocess.call([python, "-m", "pytest", *rest], cwd=ROOT)
    return subprocess.call([python, *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
