"""The contract checks that read the plugin without running it: manifest, the plugin policy (the
same code as the review's static stage, :mod:`nentang.sdk.policy`), permissions, settings schema
(see :mod:`nentang.sdk.testing.contract` for the codes)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from nentang.sdk.manifest import MANIFEST_FILE, Manifest, check_manifest
from nentang.sdk.policy import check_kernel_imports, check_package
from nentang.sdk.settings import check_settings_schema
from nentang.sdk.testing._scan import permission_uses

if TYPE_CHECKING:
    from nentang.sdk.testing._source import PluginSource
    from nentang.sdk.testing.contract import Collector


def run(source: PluginSource, collect: Collector) -> Manifest | None:
    """Run the static checks; returns the manifest when it is usable."""
    manifest = _manifest(source, collect)
    _policy(source, manifest, collect)
    _permissions(source, manifest, collect)
    _settings_schema(source, manifest, collect)
    return manifest


def _manifest(source: PluginSource, collect: Collector) -> Manifest | None:
    path = source.package_dir / MANIFEST_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        collect.add("manifest", "contract.manifest", path.as_posix(), f"{MANIFEST_FILE} is required in the package")
        collect.done("manifest")
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        collect.add("manifest", "contract.manifest", path.as_posix(), f"not valid TOML: {exc}")
        collect.done("manifest")
        return None
    manifest, findings = check_manifest(data, location=MANIFEST_FILE, distribution_version=source.version)
    collect.manifest_findings(findings)
    if manifest is not None and manifest.name != source.name:
        collect.add(
            "manifest",
            "contract.manifest",
            f"{MANIFEST_FILE}:name",
            f"plugin.name_mismatch: entry point {source.name!r} but manifest name {manifest.name!r}",
        )
    if manifest is not None and source.package != f"nentang_{source.name}":
        collect.add(
            "manifest",
            "contract.manifest",
            source.package_dir.as_posix(),
            f"plugin.package_name: the import package must be 'nentang_{source.name}', not {source.package!r}",
        )
    collect.done("manifest", f"{source.distribution} {source.version}" if manifest else "")
    return manifest


def _policy(source: PluginSource, manifest: Manifest | None, collect: Collector) -> None:
    """The plugin policy over the package, as the review runs it; the rest of the project (its tests)
    may use anything but the kernel."""
    root = source.root or source.package_dir.parent
    label = _relative(source.package_dir, root)
    findings = check_package(
        source.package_dir,
        manifest.capabilities if manifest is not None else (),
        requires=manifest.requires if manifest is not None else (),
        label=label,
    )
    if source.root is not None:
        findings += check_kernel_imports(source.root, exclude=source.package_dir)
    for finding in findings:
        collect.add("static", finding.code, finding.location, finding.message, finding.severity)
    collect.done("static", f"plugin policy over {label}" + (" and kernel imports elsewhere" if source.root else ""))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _permissions(source: PluginSource, manifest: Manifest | None, collect: Collector) -> None:
    if manifest is None:
        collect.skip("permissions", "the manifest is not usable")
        return
    uses = permission_uses(source.package_dir)
    declared = {p.name for p in manifest.permissions}
    root = source.root or source.package_dir.parent
    for hit in uses.literal:
        if hit.value not in declared and not hit.value.startswith("kernel."):
            collect.add(
                "permissions",
                "contract.permission_undeclared",
                hit.where(root),
                f"checks {hit.value!r}, which {MANIFEST_FILE} does not declare: add it under [[permissions]]",
            )
    used = uses.names
    for name in sorted(declared - used):
        hint = f" ({len(uses.dynamic)} check(s) with a non-literal permission could be it)" if uses.dynamic else ""
        collect.add(
            "permissions",
            "contract.permission_unused",
            f"{MANIFEST_FILE}:permissions",
            f"declares {name!r} but no code checks it (require_permission/has_permission){hint}: "
            "check it where it guards something, or remove it",
        )
    for hit in uses.dynamic:
        collect.add(
            "permissions",
            "contract.permission_dynamic",
            hit.where(root),
            f"the permission checked here ({hit.value}) is not a string literal or a module constant; "
            "the suite cannot match it with the manifest",
            "warning",
        )
    collect.done("permissions", f"{len(declared)} declared, {len(used)} checked in code")


def _settings_schema(source: PluginSource, manifest: Manifest | None, collect: Collector) -> None:
    from nentang.sdk.testing.contract import settings_for_contract

    if manifest is None:
        collect.skip("settings_schema", "the manifest is not usable")
        return
    schema = dict(manifest.settings_schema)
    where = f"{MANIFEST_FILE}:settings_schema"
    problems = check_settings_schema(schema)
    for problem in problems:
        collect.add("settings_schema", "contract.settings_schema", where, problem)
    if not any(p.startswith("not a valid JSON Schema") for p in problems) and settings_for_contract(schema) is None:
        collect.add(
            "settings_schema",
            "contract.settings_example",
            where,
            "neither {} nor the schema's first 'examples' entry is valid settings, so the plugin cannot be "
            "enabled for the checks: add an 'examples' list to settings_schema",
        )
    collect.done("settings_schema", "valid JSON Schema (Draft 2020-12) of an object")


__all__ = ["run"]
