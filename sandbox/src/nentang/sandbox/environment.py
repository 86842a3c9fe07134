"""Building the plugin's wheel and installing it into a review environment of its own.

The wheel is built offline with the build backends already installed (``--no-isolation``), and
its SHA-256 is what an approval names. The review environment is a fresh virtual environment
(made without pip, in well under a second) whose ``site-packages`` holds only the plugin and
whatever it needs beyond the kernel; a ``.pth`` file layers the kernel's environment under it
(``site.addsitedir``), so the kernel, the SDK and their dependencies are the very ones the
platform runs, not copies, and nothing is downloaded for them. The plugin's own copy comes
first on ``sys.path``, ahead of any editable install of the same plugin in the kernel's
environment.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import sysconfig
import venv
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import final

from nentang.sandbox.findings import ReviewFinding


class StepFailed(Exception):
    """A step could not produce what the next steps need; carries the finding to report."""

    def __init__(self, finding: ReviewFinding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_wheel(source: Path, out_dir: Path, *, timeout: float = 300) -> Path:
    """Build the wheel of a plugin source folder (one with ``pyproject.toml``) into ``out_dir``."""
    if not (source / "pyproject.toml").is_file():
        raise StepFailed(ReviewFinding("build", "build.no_project", str(source), "no pyproject.toml in this folder"))
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    wheels = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise StepFailed(
            ReviewFinding("build", "build.failed", str(source), "the wheel did not build: " + " | ".join(tail))
        )
    return wheels[-1]


@final
@dataclass(frozen=True, slots=True)
class WheelInfo:
    distribution: str
    version: str
    requires: tuple[str, ...]


def wheel_info(wheel: Path) -> WheelInfo:
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if name is None:
            raise StepFailed(ReviewFinding("build", "build.no_metadata", wheel.name, "the wheel has no METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    return WheelInfo(
        distribution=str(metadata["Name"]),
        version=str(metadata["Version"]),
        requires=tuple(metadata.get_all("Requires-Dist") or ()),
    )


def stray_members(wheel: Path, package: str) -> list[str]:
    """Files the wheel would install outside its package and its ``.dist-info`` (a ``.pth`` file runs
    code at every interpreter start; none of them is covered by the approval's file digests)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return [n for n in names if not n.startswith(f"{package}/") and not n.split("/")[0].endswith(".dist-info")]


@final
@dataclass(frozen=True, slots=True)
class ReviewEnvironment:
    root: Path
    python: Path
    site: Path


def create_environment(root: Path) -> ReviewEnvironment:
    """A virtual environment over the kernel's: its own site-packages first, the kernel's below."""
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(root)
    python = root / "bin" / "python"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = root / "lib" / version / "site-packages"
    kernel_sites = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in kernel_sites)
    (site / "zz_nentang_kernel_environment.pth").write_text(lines, encoding="utf-8")
    return ReviewEnvironment(root, python, site)


def install(env: ReviewEnvironment, wheel: Path, *, timeout: float = 600) -> list[str]:
    """Install the wheel, then whichever of its requirements the kernel's environment lacks.

    :returns: the requirements pinned to the versions now installed (``name==version``).
    """
    base = [str(env.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "--quiet"]
    done = subprocess.run(
        [*base, "--no-deps", "--ignore-installed", str(wheel)], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise StepFailed(ReviewFinding("install", "install.failed", wheel.name, _tail(done)))
    probe = subprocess.run(
        [str(env.python), "-c", _PROBE, *wheel_info(wheel).requires], capture_output=True, text=True, timeout=120
    )
    missing = [line[2:] for line in probe.stdout.splitlines() if line.startswith("- ")]
    if missing:
        done = subprocess.run([*base, *missing], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise StepFailed(
                ReviewFinding("install", "install.dependencies", ", ".join(missing), "not installable: " + _tail(done))
            )
        probe = subprocess.run(
            [str(env.python), "-c", _PROBE, *wheel_info(wheel).requires], capture_output=True, text=True, timeout=120
        )
    return [line[2:] for line in probe.stdout.splitlines() if line.startswith("= ")]


# Prints "= name==version" for each satisfied requirement and "- requirement" for each missing one.
_PROBE = """
import sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
for text in sys.argv[1:]:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        have = version(req.name)
    except PackageNotFoundError:
        print("- " + text)
        continue
    print(("= " + req.name + "==" + have) if req.specifier.contains(have, prereleases=True) else "- " + text)
"""


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
