#!/usr/bin/env python3
"""Vendor the console's front-end packages from the npm registry, pinned and digested.

    python3 scripts/vendor_frontend.py           # fetch the pins below, verify, extract, write the lock
    python3 scripts/vendor_frontend.py --check   # verify the committed files against the lock (no network)

Why vendored: the README's two commands need only Python, so the files a browser loads are committed;
this script is how they got there. Each package is fetched with ``npm pack`` at an exact version; the
tarball's SHA-512 must equal the ``dist.integrity`` the registry publishes for that version (read
with ``npm view``), and only the files named in :data:`PINS` are taken out of it. The lock
(``kernel/console/static/vendor/VENDOR.lock.json``) records, per package, the version, the tarball's
path on the registry, its integrity, its licence, and each vendored file's SHA-256 (before and after
a transform). ``--check`` recomputes those digests and compares the pins with the lock, so a file
edited by hand, a file added to a vendor folder, or a pin changed without re-vendoring fails the suite
(``tests/test_vendor_frontend.py``).

Only the standard library is used, as in ``dev.py``; fetching also needs ``npm`` on the PATH.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path("kernel/console/static/vendor/VENDOR.lock.json")
#: The console's own CSS sets its fonts; this stack is what the base's rules fall back to.
SYSTEM_FONTS = 'system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif'


def unbrand_govuk_css(css: str) -> str:
    """GOV.UK Frontend's compiled CSS without GOV.UK's brand assets.

    The GDS Transport typeface is licensed for GOV.UK services only, and the crest is the UK's; the
    console keeps the component patterns (spacing, focus, error styles) and drops both: the
    ``@font-face`` rules go, the font stack becomes the system's, and the crest image becomes
    ``none``. The source map comment goes too (the map is not vendored)."""
    out = re.sub(r"@font-face\{[^}]*GDS Transport[^}]*\}", "", css)
    out = out.replace("GDS Transport,arial,sans-serif", SYSTEM_FONTS)
    out = out.replace("url(/assets/images/govuk-crest.svg)", "none")
    out = re.sub(r"/\*# sourceMappingURL=[^*]*\*/\s*$", "", out)
    leftovers = [marker for marker in ("GDS Transport", "/assets/", "sourceMappingURL") if marker in out]
    if leftovers:  # upstream changed shape: a new brand asset must be looked at, not shipped
        raise VendorError(f"govuk-frontend CSS still names {leftovers} after unbranding; update unbrand_govuk_css")
    return out


def drop_source_map(js: str) -> str:
    """The minified script without its ``sourceMappingURL`` (the map is not vendored)."""
    return re.sub(r"//# sourceMappingURL=\S*\s*$", "", js)


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "unbrand_govuk_css": unbrand_govuk_css,
    "drop_source_map": drop_source_map,
}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    #: Folder, relative to the repository, that holds this package's files and nothing else.
    dest: str
    #: Path inside the tarball -> (file name in ``dest``, transform name or ``None``).
    files: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: Why the console (or its tests) needs the package, for the lock's reader.
    purpose: str = ""


PINS: tuple[Pin, ...] = (
    Pin(
        "govuk-frontend",
        "6.6.0",
        "kernel/console/static/vendor/govuk-frontend",
        {
            "package/dist/govuk/govuk-frontend.min.css": ("govuk-frontend.min.css", "unbrand_govuk_css"),
            "package/dist/govuk/govuk-frontend.min.js": ("govuk-frontend.min.js", "drop_source_map"),
        },
        "accessible component base (GOV.UK Design System patterns), compiled CSS and JS only, unbranded",
    ),
    Pin(
        "htmx.org",
        "2.0.11",
        "kernel/console/static/vendor/htmx.org",
        {
            "package/dist/htmx.min.js": ("htmx.min.js", None),
            "package/LICENSE": ("LICENSE", None),
        },
        "progressive enhancement of server-rendered forms and lists",
    ),
    Pin(
        "axe-core",
        "4.14.1",
        "tests/browser/vendor/axe-core",
        {
            "package/axe.min.js": ("axe.min.js", None),
            "package/LICENSE": ("LICENSE", None),
            "package/LICENSE-3RD-PARTY.txt": ("LICENSE-3RD-PARTY.txt", None),
        },
        "accessibility scan in the browser tests (never served by the platform)",
    ),
)


class VendorError(Exception):
    """A check or a fetch that must stop the script with its message."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def npm(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["npm", *args], cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise VendorError("fetching needs npm on the PATH (--check does not)") from exc
    except subprocess.CalledProcessError as exc:
        raise VendorError(f"npm {' '.join(args)} failed: {exc.stderr.strip()}") from exc
    return done.stdout


def fetch(pin: Pin, workdir: Path) -> tuple[dict[str, object], bytes]:
    """The registry's metadata for the pinned version and its tarball, whose digest must match it."""
    spec = f"{pin.name}@{pin.version}"
    meta = json.loads(npm("view", spec, "version", "dist.integrity", "dist.tarball", "license", "--json"))
    if meta.get("version") != pin.version:
        raise VendorError(f"{spec}: the registry answered version {meta.get('version')!r}")
    packed = json.loads(npm("pack", spec, "--json", "--pack-destination", str(workdir), cwd=workdir))
    tarball = (workdir / packed[0]["filename"]).read_bytes()
    integrity = str(meta["dist.integrity"])
    if sri_sha512(tarball) != integrity:
        raise VendorError(f"{spec}: tarball SHA-512 {sri_sha512(tarball)} is not the registry's {integrity}")
    return meta, tarball


def vendor(pin: Pin, meta: dict[str, object], tarball: bytes, root: Path) -> dict[str, object]:
    dest = root / pin.dest
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.iterdir():  # the folder holds exactly the pinned files
        if stale.is_file():
            stale.unlink()
    files = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, (target, transform) in sorted(pin.files.items()):
            handle = archive.extractfile(member)  # by name: nothing else in the tarball is unpacked
            if handle is None:
                raise VendorError(f"{pin.name}@{pin.version}: {member} is not a file in the tarball")
            source = handle.read()
            data = TRANSFORMS[transform](source.decode()).encode() if transform else source
            (dest / target).write_bytes(data)
            files.append(
                {
                    "path": f"{pin.dest}/{target}",
                    "source": member,
                    "source_sha256": sha256(source),
                    "transform": transform,
                    "sha256": sha256(data),
                }
            )
    return {
        "package": pin.name,
        "version": pin.version,
        "purpose": pin.purpose,
        "licence": meta.get("license"),
        "tarball": urlparse(str(meta["dist.tarball"])).path,  # on whichever registry npm is configured for
        "integrity": meta["dist.integrity"],
        "files": files,
    }


def write_lock(root: Path) -> int:
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for pin in PINS:
            meta, tarball = fetch(pin, Path(tmp))
            entries.append(vendor(pin, meta, tarball, root))
            print(f"vendored {pin.name}@{pin.version} ({meta['dist.integrity']}) into {pin.dest}/")
    (root / LOCK).write_text(json.dumps({"packages": entries}, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {LOCK}")
    return 0


def check(root: Path) -> list[str]:
    """Every problem between the pins, the lock and the files on disk (empty: all match)."""
    lock_path = root / LOCK
    if not lock_path.is_file():
        return [f"{LOCK} is missing: run scripts/vendor_frontend.py"]
    try:
        entries = {e["package"]: e for e in json.loads(lock_path.read_text())["packages"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{LOCK} is not a vendor lock: {exc}"]
    problems = []
    for name in sorted(set(entries) - {p.name for p in PINS}):
        problems.append(f"{name}: in the lock but not pinned in scripts/vendor_frontend.py")
    for pin in PINS:
        entry = entries.get(pin.name)
        if entry is None:
            problems.append(f"{pin.name}: pinned but not in the lock: run scripts/vendor_frontend.py")
            continue
        if entry.get("version") != pin.version:
            problems.append(f"{pin.name}: pinned {pin.version} but the lock has {entry.get('version')}: re-vendor")
        locked = {f["path"]: f for f in entry.get("files", [])}
        expected = {f"{pin.dest}/{target}" for target, _ in pin.files.values()}
        for path in sorted(expected - set(locked)):
            problems.append(f"{path}: pinned but not in the lock: re-vendor")
        for path, record in sorted(locked.items()):
            file = root / path
            if not file.is_file():
                problems.append(f"{path}: in the lock but missing on disk")
            elif sha256(file.read_bytes()) != record.get("sha256"):
                problems.append(f"{path}: SHA-256 {sha256(file.read_bytes())} is not the lock's {record.get('sha256')}")
        folder = root / pin.dest
        if folder.is_dir():
            for extra in sorted(p for p in folder.iterdir() if f"{pin.dest}/{p.name}" not in locked):
                problems.append(f"{pin.dest}/{extra.name}: in a vendor folder but not in the lock")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the vendored files against the lock, offline")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this script's)")
    args = parser.parse_args(argv)
    try:
        if not args.check:
            return write_lock(args.root)
        problems = check(args.root)
    except VendorError as exc:
        print(f"vendor_frontend: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"vendor check: {problem}", file=sys.stderr)
    if problems:
        return 1
    count = sum(len(p.files) for p in PINS)
    print(f"vendor check: {count} files of {len(PINS)} packages match {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
