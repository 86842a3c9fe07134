"""The walls around the sandboxed process, and running it.

With bubblewrap (``bwrap``) the process gets:

- **no network**: a network namespace of its own with only a loopback (``--unshare-all``);
- **only the files it needs**: the system's libraries, a few files of ``/etc``, Python and the
  folders it imports from, the review's own folder, all read-only, and only the scratch folder and
  the output folder writable; ``/tmp`` an empty tmpfs (see :mod:`nentang.sandbox.view`);
- its own PID, IPC and UTS namespaces (and a user namespace when the review is not run as root),
  no controlling terminal (``--new-session``), killed with the review (``--die-with-parent``);
- when the review runs as root: bwrap makes the mounts as root, then ``setpriv`` drops to the
  user ``nobody`` with no capabilities (so the process limit is real and root-only files are
  unreadable); the folders above each bind are made 0755 in the sandbox's empty root, so an
  interpreter inside a private folder (a pyenv under root's home) is reachable, and nothing else of it;
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

from nentang.sandbox import view
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


def plan(
    *,
    work: Path,
    scratch: Path,
    out: Path,
    bwrap: str | None,
    unshare: str | None,
    limits: Limits,
    imports: list[Path] | None = None,
) -> Sandbox:
    """The command prefix that puts a process in the sandbox, with a description for the report.

    :param imports: the folders the sandboxed interpreter imports from (:func:`view.import_roots`),
        shown to it read-only with the Python installation and ``work``.
    """
    root = os.geteuid() == 0
    described = [
        f"limits: CPU {limits.cpu_seconds} s, address space {limits.memory_bytes // 2**20} MiB, "
        f"open files {limits.open_files}, file size {limits.file_bytes // 2**20} MiB, "
        f"wall clock {limits.wall_seconds:.0f} s",
    ]
    findings: list[ReviewFinding] = []
    setpriv = shutil.which("setpriv")
    if bwrap is not None:
        readable = [*view.python_installation(), work, *(imports or [])]
        prefix = [bwrap, *view.bwrap_arguments(readable=readable, writable=[scratch, out])]
        if root:  # bwrap as root makes the mounts; setpriv then leaves root for nobody, with no capabilities
            prefix += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        else:  # unprivileged: a user namespace too
            prefix += ["--unshare-all"]
        prefix += ["--die-with-parent", "--new-session", "--chdir", str(scratch), "--"]
        described.append(
            "bubblewrap: no network (own network namespace); of the host's files only the system's "
            "programs and libraries, a few of /etc, Python and the folders it imports from, and the "
            "review folder, read-only, except the scratch folder; empty /tmp, minimal /dev, own "
            "PID/IPC/UTS namespaces, no terminal"
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
