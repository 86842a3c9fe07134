"""Finding a plugin to check — a source folder or an installed plugin — and making the kernel see it.

A source folder is a project with ``pyproject.toml`` naming one ``nentang.plugins`` entry point.
If that very folder is not what the environment has installed, :func:`discoverable` writes a
``*.dist-info`` (metadata and entry points, what ``pip install -e`` would leave) into a scratch
folder and puts it, and the folder holding the import package, first on ``sys.path`` for the
duration of the check — then takes both away again, with the modules imported from there.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

from nentang.sdk.manifest import Finding

PLUGINS_GROUP: Final = "nentang.plugins"
MIGRATIONS_GROUP: Final = "nentang.migrations"


@final
@dataclass(frozen=True, slots=True)
class PluginSource:
    """A plugin as the contract suite sees it, before any of its code ran."""

    #: The plugin's name (its entry point's name).
    name: str
    #: The distribution that ships it, and its version.
    distribution: str
    version: str
    #: The module the ``nentang.plugins`` entry point names (``nentang_forms.plugin``).
    entry_module: str
    #: The folder of the import package ``nentang_<name>``.
    package_dir: Path
    #: The project folder (holding ``pyproject.toml``), when known.
    root: Path | None
    #: The package the ``nentang.migrations`` entry point names, if any.
    migrations: str | None
    #: Whether the environment already has this very code installed (nothing to synthesise).
    installed: bool

    @property
    def package(self) -> str:
        return self.package_dir.name


def locate(target: str | Path) -> tuple[PluginSource | None, list[Finding]]:
    """The plugin at ``target`` (a project folder) or named ``target`` (installed), or findings."""
    path = Path(target)
    if path.is_dir():
        return _from_folder(path.resolve())
    if isinstance(target, str) and re.fullmatch(r"[a-z][a-z0-9_]*", target):
        return _from_installed(target)
    return None, [Finding("contract.source", str(target), "not a plugin project folder nor an installed plugin's name")]


def _from_folder(root: Path) -> tuple[PluginSource | None, list[Finding]]:
    pyproject = root / "pyproject.toml"
    where = pyproject.as_posix()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Finding("contract.source", root.as_posix(), "no pyproject.toml: point at the plugin's project")]
    except tomllib.TOMLDecodeError as exc:
        return None, [Finding("contract.source", where, f"not valid TOML: {exc}")]
    project = data.get("project", {})
    entry_points = project.get("entry-points", {})
    plugins = entry_points.get(PLUGINS_GROUP, {})
    findings: list[Finding] = []
    if len(plugins) != 1:
        findings.append(
            Finding(
                "contract.source",
                f"{where}:project.entry-points",
                f"declare exactly one plugin in [project.entry-points.{PLUGINS_GROUP!r}] (found {len(plugins)})",
            )
        )
    dist, version = project.get("name"), project.get("version")
    if not isinstance(dist, str) or not isinstance(version, str):
        findings.append(Finding("contract.source", f"{where}:project", "project.name and a static project.version"))
    if findings:
        return None, findings
    name, value = next(iter(plugins.items()))
    package = value.split(":")[0].split(".")[0]
    package_dir = next((p for p in (root / "src" / package, root / package) if p.is_dir()), None)
    if package_dir is None:
        return None, [Finding("contract.source", root.as_posix(), f"no package folder {package!r} (in src/ or here)")]
    migrations = entry_points.get(MIGRATIONS_GROUP, {}).get(name)
    return (
        PluginSource(
            name=name,
            distribution=str(dist),
            version=str(version),
            entry_module=value.split(":")[0],
            package_dir=package_dir,
            root=root,
            migrations=migrations,
            installed=_installed_here(str(dist), name, package_dir),
        ),
        [],
    )


def _from_installed(name: str) -> tuple[PluginSource | None, list[Finding]]:
    importlib.invalidate_caches()
    found = [ep for ep in importlib.metadata.entry_points(group=PLUGINS_GROUP) if ep.name == name]
    if not found:
        return None, [Finding("contract.source", name, "no installed plugin of that name; install it or give a path")]
    ep = found[0]
    dist = ep.dist
    package = ep.value.split(":")[0].split(".")[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None, [Finding("contract.source", name, f"its import package {package!r} cannot be found")]
    package_dir = Path(next(iter(spec.submodule_search_locations))).resolve()
    root = next((p for p in package_dir.parents if (p / "pyproject.toml").is_file()), None)
    migrations = None
    if dist is not None:
        migrations = next((e.value for e in dist.entry_points if e.group == MIGRATIONS_GROUP and e.name == name), None)
    return (
        PluginSource(
            name=name,
            distribution=dist.metadata["Name"] if dist is not None else f"nentang-{name}",
            version=dist.version if dist is not None else "0",
            entry_module=ep.value.split(":")[0],
            package_dir=package_dir,
            root=root if root is not None and root != Path(sys.prefix) else None,
            migrations=migrations,
            installed=True,
        ),
        [],
    )


def _installed_here(dist: str, name: str, package_dir: Path) -> bool:
    """Whether the environment's installed ``dist`` provides plugin ``name`` from ``package_dir``."""
    importlib.invalidate_caches()
    try:
        installed = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    if not any(e.group == PLUGINS_GROUP and e.name == name for e in installed.entry_points):
        return False
    spec = importlib.util.find_spec(package_dir.name)
    if spec is None or not spec.submodule_search_locations:
        return False
    return Path(next(iter(spec.submodule_search_locations))).resolve() == package_dir.resolve()


@contextmanager
def discoverable(source: PluginSource, scratch: Path) -> Iterator[None]:
    """Make the kernel's discovery (and migrations) find ``source`` for the duration of the block."""
    if source.installed:
        yield
        return
    site = scratch / "site"
    info = site / f"{re.sub(r'[-_.]+', '_', source.distribution)}-{source.version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {source.distribution}\nVersion: {source.version}\n", encoding="utf-8"
    )
    points = f"[{PLUGINS_GROUP}]\n{source.name} = {source.entry_module}\n"
    if source.migrations:
        points += f"\n[{MIGRATIONS_GROUP}]\n{source.name} = {source.migrations}\n"
    (info / "entry_points.txt").write_text(points, encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    added = [str(site), str(source.package_dir.parent)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        for module in [m for m in sys.modules if m.split(".")[0] == source.package]:
            del sys.modules[module]
        importlib.invalidate_caches()


__all__ = ["PluginSource", "discoverable", "locate"]
