"""What of the host the sandboxed process sees: only what running the plugin needs.

The sandbox's root is an empty tmpfs; bubblewrap binds into it, read-only:

- the system's programs and libraries (``/usr``, and the ``/bin``, ``/lib``... links or folders
  of a merged or split ``/usr``), which hold the C libraries Python loads and the time zones;
- of ``/etc`` only what Python and its libraries read: the dynamic linker's cache, the time zone,
  MIME types, the public certificates (``/etc/ssl/certs``, not ``/etc/ssl/private``);
- the Python installation and every folder the review environment's interpreter imports from (its
  own ``site-packages`` with the plugin, the kernel's environment and the editable checkouts of the
  kernel and SDK behind it), found by asking that interpreter;
- the review's work folder (the plugin's installed package lives there), with the scratch and
  output folders writable.

Plus a private ``/tmp``, a minimal ``/dev`` (null, zero, random, urandom, tty) and a ``/proc`` of
the sandbox's own PID namespace. Nothing else exists inside: no ``/home``, ``/root``, ``/var``,
``/srv``, no other file of ``/etc`` (no ``passwd``, ``shadow``, ``hostname``), no checkout beyond
the folders Python imports from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

#: System folders bound read-only (or recreated as the links they are on the host).
SYSTEM: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The files (and folders) of ``/etc`` the interpreter and its libraries read.
ETC: Final = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
)

# Prints what the review environment's interpreter imports from: sys.path after the .pth files,
# and the real folders behind the nentang namespace (the kernel's checkout is reached by a link).
_PROBE: Final = """
import json, os, sys
roots = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != os.getcwd()]
try:
    import nentang
    for portion in nentang.__path__:
        roots.append(portion)
        for child in os.scandir(portion):
            if child.is_symlink():
                roots.append(os.path.realpath(child.path))
except ImportError:
    pass
print(json.dumps(roots))
"""


def import_roots(python: Path, cwd: Path) -> list[Path]:
    """The folders ``python`` imports from (run from ``cwd``, which is left out)."""
    done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, cwd=cwd, timeout=60, check=True)
    return [Path(p) for p in json.loads(done.stdout)]


def python_installation() -> list[Path]:
    """The interpreter's own folders (a pyenv under root's home, a system prefix...)."""
    return [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent]


def bwrap_arguments(*, readable: list[Path], writable: list[Path]) -> list[str]:
    """bubblewrap's file system arguments: system binds, then ``readable`` and ``writable`` folders.

    Each folder is bound at its real path. The folders above it are made in the sandbox's root
    (0755, so that the user ``nobody`` can walk through them) unless an earlier bind holds it.
    """
    args: list[str] = []
    for name in SYSTEM:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    made: set[Path] = {Path("/")}
    for name in ETC:
        if Path(name).exists():
            made |= _parents(Path(name), made, args)
            args += ["--ro-bind", name, name]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    made |= {Path("/dev"), Path("/proc"), Path("/tmp")}
    system = [Path(n) for n in SYSTEM]
    bound: list[Path] = []
    wanted = [(p.resolve(), "--ro-bind") for p in readable if p.exists()]
    wanted += [(p.resolve(), "--bind") for p in writable]
    for path, how in sorted(set(wanted), key=lambda item: (len(item[0].parts), str(item[0]), item[1])):
        if any(path == s or s in path.parents for s in system):
            continue  # already visible through the system binds
        if how == "--ro-bind" and any(path == b or b in path.parents for b in bound):
            continue  # inside a folder bound already
        if not any(b in path.parents for b in bound):
            made |= _parents(path, made, args)
        args += [how, str(path), str(path)]
        bound.append(path)
    return args


def _parents(path: Path, made: set[Path], args: list[str]) -> set[Path]:
    new: set[Path] = set()
    for folder in reversed(path.parents):
        if folder not in made and folder not in new:
            args += ["--perms", "0755", "--dir", str(folder)]
            new.add(folder)
    return new
