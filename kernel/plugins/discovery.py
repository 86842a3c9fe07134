"""Finding installed plugins and reading their manifests — without importing their code.

A plugin is an installed distribution with an entry point in the group ``nentang.plugins``
(``forms = "nentang_forms.plugin"``). Its manifest, ``nentang-plugin.toml``, sits in the import
package ``nentang_<name>``; the kernel locates that package with ``importlib.util.find_spec``
on the *top-level* name, which searches the path but executes nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import final

import importlib_metadata
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nentang.sdk.manifest import MANIFEST_FILE, Finding, Manifest, check_manifest

ENTRY_POINT_GROUP = "nentang.plugins"


@final
@dataclass(frozen=True, slots=True)
class Candidate:
    """An installed plugin as found on disk, before any of its code ran."""

    #: The entry point's name (must equal the manifest's name).
    name: str
    #: The module holding the hook implementations (the entry point's value).
    module: str
    #: The distribution that ships it, and its version.
    distribution: str
    version: str
    #: The folder of the import package ``nentang_<name>`` (``None`` if it cannot be found).
    package_dir: Path | None
    #: The checked manifest, or ``None`` when it has findings.
    manifest: Manifest | None
    #: Everything wrong with it; a candidate with findings is never imported.
    findings: tuple[Finding, ...] = ()

    @property
    def usable(self) -> bool:
        return self.manifest is not None and not self.findings


def discover(sdk_version: str, path: list[str] | None = None) -> list[Candidate]:
    """Every installed plugin with its manifest checked, sorted by name.

    :param sdk_version: The running SDK version; a manifest's ``api`` range must include it.
    :param path: Where to look (default ``sys.path``); tests point it at throwaway installs.
    """
    # plugins installed since start-up must be visible to a rescan: the import system's and
    # importlib-metadata's path caches both remember directory listings
    importlib.invalidate_caches()
    importlib_metadata.MetadataPathFinder.invalidate_caches()
    distributions = (
        importlib_metadata.distributions(path=path) if path is not None else importlib_metadata.distributions()
    )
    found: list[tuple[importlib_metadata.EntryPoint, importlib_metadata.Distribution]] = []
    seen_dists: set[str] = set()
    for dist in distributions:
        dist_name = dist.metadata["Name"] or ""
        if dist_name in seen_dists:  # the same distribution twice on the path: the first one wins, as for imports
            continue
        seen_dists.add(dist_name)
        found.extend((ep, dist) for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
    names = Counter(ep.name for ep, _ in found)
    candidates = [_candidate(ep, dist, sdk_version, duplicated=names[ep.name] > 1) for ep, dist in found]
    return _check_requirements(sorted(candidates, key=lambda c: (c.name, c.distribution)))


def _candidate(
    ep: importlib_metadata.EntryPoint, dist: importlib_metadata.Distribution, sdk_version: str, *, duplicated: bool
) -> Candidate:
    dist_name = dist.metadata["Name"] or "?"
    version = dist.version
    location = f"{dist_name} {version}"
    findings: list[Finding] = []
    if duplicated:
        findings.append(
            Finding(
                "plugin.duplicate_name", location, f"another installed distribution also provides plugin {ep.name!r}"
            )
        )
    package = f"nentang_{ep.name}"
    if ep.value.split(":")[0].split(".")[0] != package:
        findings.append(
            Finding(
                "plugin.package_name",
                location,
                f"the entry point {ep.name!r} must name a module in package {package!r}",
            )
        )
    package_dir = _package_dir(package)
    manifest = None
    if package_dir is None:
        findings.append(Finding("plugin.package_missing", location, f"import package {package!r} is not installed"))
    else:
        manifest_path = package_dir / MANIFEST_FILE
        try:
            data = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            findings.append(Finding("manifest.missing", str(manifest_path), f"{MANIFEST_FILE} is required"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            findings.append(Finding("manifest.syntax", str(manifest_path), f"not valid TOML: {exc}"))
        else:
            manifest, problems = check_manifest(data, location=MANIFEST_FILE, distribution_version=version)
            findings.extend(problems)
            if manifest is not None and manifest.name != ep.name:
                findings.append(
                    Finding(
                        "plugin.name_mismatch", location, f"entry point {ep.name!r} but manifest name {manifest.name!r}"
                    )
                )
            if manifest is not None and Version(sdk_version) not in SpecifierSet(manifest.api):
                findings.append(
                    Finding(
                        "plugin.incompatible_api",
                        location,
                        f"supports SDK {manifest.api}, but this kernel provides SDK {sdk_version}",
                    )
                )
    return Candidate(
        name=ep.name,
        module=ep.value.split(":")[0],
        distribution=dist_name,
        version=version,
        package_dir=package_dir,
        manifest=manifest if not findings else None,
        findings=tuple(findings),
    )


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)  # top-level: searches, executes nothing
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _check_requirements(candidates: list[Candidate]) -> list[Candidate]:
    """A plugin whose required plugins are missing, unusable or of the wrong version is unusable too."""
    changed = True
    while changed:  # a failure can cascade to the plugins that require the failed one
        changed = False
        usable = {c.name: c for c in candidates if c.usable}
        out: list[Candidate] = []
        for candidate in candidates:
            if candidate.usable and candidate.manifest is not None:
                problems = []
                for dep, spec in candidate.manifest.requires.items():
                    other = usable.get(dep)
                    if other is None:
                        problems.append(f"requires plugin {dep!r} ({spec}), which is not installed or not usable")
                    elif Version(other.version) not in SpecifierSet(spec):
                        problems.append(f"requires plugin {dep!r} {spec}, but {other.version} is installed")
                if problems:
                    location = f"{candidate.distribution} {candidate.version}"
                    findings = tuple(Finding("plugin.requirement", location, p) for p in problems)
                    candidate = Candidate(
                        name=candidate.name,
                        module=candidate.module,
                        distribution=candidate.distribution,
                        version=candidate.version,
                        package_dir=candidate.package_dir,
                        manifest=None,
                        findings=candidate.findings + findings,
                    )
                    changed = True
            out.append(candidate)
        candidates = out
    return candidates
