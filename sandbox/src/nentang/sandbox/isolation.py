"""The walls around the sandboxed process, and running it.

With bubblewrap (``bwrap``) the process gets:

- **no network**: a network namespace of its own with only a loopback (``--unshare-all``);
- **a read-only file system**: ``/`` bound read-only, ``/tmp`` an empty tmpfs, the review's own
  folder read-only, and only the scratch folder and the output folder writable;
- its own PID, IPC and UTS namespaces (and a user namespace when the review is not run as root),
  no controlling terminal (``--new-session``), killed with the review (``--die-with-parent``);
- when the review runs as root: bwrap makes the mounts as root, then ``setpriv`` drops to the
  user ``nobody`` with no capabilities (so the process limit is real and root-only files are
  unreadable); an interpreter inside a private folder (a pyenv under root's home) is exposed alone, on a
  tmpfs over that folder;
- hard resource limits set by the runner before anything else: CPU seconds, address space,
  processes, open files, file size; and a wall-clock timeout here.

Without bubblewrap the review says so: the process still gets a network namespace through
``unshare --net`` when that works, but the file system is not read-only, and a finding
``sandbox.no_bubblewrap`` fails the review — a review never passes silently without its walls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

from nentang.sandbox.findings import ReviewFinding

NOBODY: Final = 65534
INSTALL_HINT: Final = "install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap)"


@final
@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of the sandboxed process (generous for a plugin's tests, small for a server)."""

    #: CPU seconds (SIGXCPU at this, SIGKILL five seconds later).
    cpu_seconds: int = 60
    #: Address space; Python, SQLAlchemy and the kernel need about 300 MiB of it.
    memory_bytes: int = 1536 * 1024 * 1024
    #: Processes and threads of the sandbox's user (enforced only when the review runs as root).
    processes: int = 64
    open_files: int = 256
    #: Largest file the process may write.
    file_bytes: int = 256 * 1024 * 1024
    #: Wall-clock seconds before the process is killed.
    wall_seconds: float = 180.0


@final
@dataclass(slots=True)
class Sandbox:
    """How the sandboxed process is started on this machine, and what that lacks."""

    prefix: list[str]
    description: list[str]
    findings: list[ReviewFinding] = field(default_factory=list)
    #: The user the plugin's code runs as (``nobody`` when the review runs as root), or ``None``: as the
    #: reviewer. The scratch and output folders are handed to it.
    owner: int | None = None


def plan(*, work: Path, scratch: Path, out: Path, bwrap: str | None, unshare: str | None, limits: Limits) -> Sandbox:
    """The command prefix that puts a process in the sandbox, with a description for the report."""
    root = os.geteuid() == 0
    described = [
        f"limits: CPU {limits.cpu_seconds} s, address space {limits.memory_bytes // 2**20} MiB, "
        f"open files {limits.open_files}, file size {limits.file_bytes // 2**20} MiB, "
        f"wall clock {limits.wall_seconds:.0f} s",
    ]
    findings: list[ReviewFinding] = []
    setpriv = shutil.which("setpriv")
    if bwrap is not None:
        prefix = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        needed = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent, work]
        needed += _import_roots()  # editable installs live in the checkout, which may be under /tmp
        prefix += _expose_to_nobody(needed, {Path("/tmp")}) if root else ["--ro-bind", str(work), str(work)]
        prefix += ["--bind", str(scratch), str(scratch)]
        prefix += ["--bind", str(out), str(out)]
        if root:  # bwrap as root makes the mounts; setpriv then leaves root for nobody, with no capabilities
            prefix += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        else:  # unprivileged: a user namespace too
            prefix += ["--unshare-all"]
        prefix += ["--die-with-parent", "--new-session", "--chdir", str(scratch), "--"]
        described.append(
            "bubblewrap: no network (own network namespace), read-only file system except the scratch folder, "
            "empty /tmp, own PID/IPC/UTS namespaces, no terminal"
        )
        owner = None
        if root and setpriv is not None:
            prefix += [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            prefix += ["--inh-caps=-all", "--bounding-set=-all", "--"]
            owner = NOBODY
            described.append(
                f"user: nobody ({NOBODY}), no capabilities; processes and threads at most {limits.processes}"
            )
        elif root:
            findings.append(
                ReviewFinding(
                    "sandbox",
                    "sandbox.runs_as_root",
                    "sandbox",
                    "setpriv (util-linux) is missing: the plugin ran as root inside the sandbox",
                )
            )
            described.append("user: root inside the sandbox (setpriv missing)")
        else:
            findings.append(_nproc_warning())
            described.append("user: the reviewer's own, in a user namespace (process limit not enforced)")
        return Sandbox(prefix, described, findings, owner)
    findings.append(
        ReviewFinding(
            "sandbox",
            "sandbox.no_bubblewrap",
            "sandbox",
            f"bubblewrap (bwrap) is not installed: the plugin's file system view is NOT read-only; {INSTALL_HINT}",
        )
    )
    fallback = [unshare, "--net", "--"] if root else [unshare, "--net", "--map-root-user", "--"]
    if unshare is not None and _works([*fallback, "true"]):
        described.append("unshare: no network (own network namespace); file system NOT read-only (no bubblewrap)")
        return Sandbox([str(a) for a in fallback], described, findings, None)
    findings.append(
        ReviewFinding(
            "sandbox",
            "sandbox.no_network_namespace",
            "sandbox",
            "no network namespace could be made (neither bwrap nor 'unshare --net' works): the plugin had network",
        )
    )
    described.append("NO isolation: network and file system as the reviewer's (bubblewrap and unshare missing)")
    return Sandbox([], described, findings, None)


def _nproc_warning() -> ReviewFinding:
    return ReviewFinding(
        "sandbox",
        "sandbox.nproc_unenforced",
        "sandbox",
        "the process limit is only enforced when the review runs as root (the sandbox then runs as nobody)",
        "warning",
    )


def _expose_to_nobody(paths: list[Path], hidden: set[Path]) -> list[str]:
    """bwrap arguments that bind ``paths`` read-only where nobody can reach them.

    ``hidden`` holds the folders already covered by a tmpfs (``/tmp``). A path below a folder that
    nobody cannot enter (an interpreter under ``/root``, pytest's ``/tmp/pytest-of-root``) gets a tmpfs
    over that folder, open (0755) folders down to it, and itself bound: nothing else of the private
    folder is visible. bwrap would otherwise create the folders in between as 0700.
    """
    args: list[str] = []
    made: set[Path] = set()
    for path in sorted({p.resolve() for p in paths}):
        cover = max((h for h in hidden if h in path.parents), key=lambda h: len(h.parts), default=None)
        private = next((a for a in reversed(path.parents) if a != Path("/") and not a.stat().st_mode & 0o001), None)
        if private is not None and (cover is None or cover in private.parents):
            args += ["--tmpfs", str(private)]
            hidden.add(private)
            cover = private
        if cover is None:
            continue  # reachable as it is on the read-only root
        for folder in [p for p in reversed(path.parents) if cover in p.parents]:
            if folder not in made:
                args += ["--perms", "0755", "--dir", str(folder)]
                made.add(folder)
        args += ["--ro-bind", str(path), str(path)]
    return args


def _works(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_tools() -> tuple[str | None, str | None]:
    return shutil.which("bwrap"), shutil.which("unshare")


def sandbox_env(scratch: Path, secret: str) -> dict[str, str]:
    """A clean environment: nothing of the reviewer's, and one planted secret to catch readers."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # planted where no legitimate code looks (the SDK's test kit reads NENTANG_DATABASE_URL)
        "NENTANG_SECRET_KEY": secret,
        "NENTANG_SIGNING_KEY": f"-----BEGIN PRIVATE KEY-----{secret}",
    }


def current_python() -> Path:
    return Path(sys.executable)


def _import_roots() -> list[Path]:
    """Folders the sandboxed interpreter imports from that an empty /tmp (or a private folder)
    would otherwise hide: every existing sys.path entry, and the real folders behind the
    ``nentang`` namespace (the kernel's editable install reaches ``kernel/`` through a link)."""
    roots = [Path(entry) for entry in sys.path if entry and Path(entry).is_dir()]
    try:
        import nentang

        roots += [Path(portion).resolve() for portion in nentang.__path__]
        roots += [
            Path(portion).resolve() / child
            for portion in nentang.__path__
            for child in ("kernel",)
            if (Path(portion) / child).exists()
        ]
    except ImportError:
        pass
    unique: dict[str, Path] = {}
    for root in roots:
        for candidate in (root, root.resolve()):
            unique.setdefault(str(candidate), candidate)
    return list(unique.values())
