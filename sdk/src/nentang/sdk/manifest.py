"""The plugin manifest: what a plugin is, needs and declares — read *before* its code is imported.

A plugin is a distribution whose import package is ``nentang_<name>``; it names the module
holding its hook implementations in the entry-point group ``nentang.plugins``
(``forms = "nentang_forms.plugin"``) and ships ``nentang-plugin.toml`` at the top of that
package, where the kernel reads it without importing anything::

    name = "forms"
    version = "0.1.0"                 # must equal the distribution's version
    api = ">=0.1,<0.2"                # the SDK (= kernel API) versions it supports
    levels = ["province", "commune"]  # where it may be enabled

    [title]
    vi = "Biểu mẫu điện tử"
    en = "eForms"
    [description]
    vi = "..."
    en = "..."

    [requires]                        # other plugins, with version ranges
    workflows = ">=0.1"

    [[permissions]]
    name = "forms.submit"
    description = "Submit an eForm"

    [[roles]]
    name = "forms.clerk"
    description = "Receives submissions"
    permissions = ["forms.submit"]

    [settings_schema]                 # JSON Schema of the per-tenant settings
    type = "object"

The kernel checks every rule and reports all findings together (:func:`check_manifest`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

MANIFEST_FILE: Final = "nentang-plugin.toml"
LEVELS: Final = ("central", "province", "commune", "unit")
#: Names a plugin may not take: they would collide with the kernel's own namespaces.
RESERVED_NAMES: Final = frozenset({"kernel", "nentang", "sdk", "system", "admin", "auth", "graphql", "plugins"})
_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@final
@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with a plugin: a stable code, where it is, and what to do."""

    code: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.location}: {self.message}"


@final
@dataclass(frozen=True, slots=True)
class DeclaredPermission:
    name: str
    description: str


@final
@dataclass(frozen=True, slots=True)
class DeclaredRole:
    name: str
    description: str
    permissions: tuple[str, ...]


@final
@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    version: str
    api: str
    levels: tuple[str, ...]
    title: Mapping[str, str]
    description: Mapping[str, str]
    requires: Mapping[str, str] = field(default_factory=dict)
    permissions: tuple[DeclaredPermission, ...] = ()
    roles: tuple[DeclaredRole, ...] = ()
    settings_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    #: What the plugin needs beyond the tenant session (e.g. "http:outbound:lgsp.example.vn");
    #: read by the sandbox review.
    capabilities: tuple[str, ...] = ()


def check_manifest(
    data: Mapping[str, Any], *, location: str, distribution_version: str | None = None
) -> tuple[Manifest | None, list[Finding]]:
    """Validate raw manifest data; return the manifest (when usable) and every finding."""
    findings: list[Finding] = []

    def problem(code: str, where: str, message: str) -> None:
        findings.append(Finding(code, f"{location}:{where}", message))

    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problem(
            "manifest.name", "name", "must be 2-40 characters: lower-case letters, digits, '_', starting with a letter"
        )
    elif name in RESERVED_NAMES:
        problem("manifest.reserved_name", "name", f"{name!r} is reserved by the kernel; choose another name")
    version = data.get("version")
    try:
        Version(str(version))
    except InvalidVersion:
        problem("manifest.version", "version", f"{version!r} is not a valid version (PEP 440)")
    if distribution_version is not None and str(version) != distribution_version:
        problem(
            "manifest.version_mismatch",
            "version",
            f"manifest says {version!r} but the installed distribution is {distribution_version!r}",
        )
    api = data.get("api")
    try:
        SpecifierSet(str(api)) if api else None
    except InvalidSpecifier:
        problem("manifest.api", "api", f"{api!r} is not a version range like '>=0.1,<0.2'")
    if not api:
        problem("manifest.api", "api", "required: the SDK versions this plugin supports, e.g. '>=0.1,<0.2'")
    levels = data.get("levels")
    if not isinstance(levels, list) or not levels or any(level not in LEVELS for level in levels):
        problem("manifest.levels", "levels", f"a non-empty list drawn from {list(LEVELS)}")
    for key in ("title", "description"):
        texts = data.get(key)
        complete = isinstance(texts, dict) and all(
            isinstance(texts.get(lang), str) and texts[lang] for lang in ("vi", "en")
        )
        if not complete:
            problem(f"manifest.{key}", key, "needs both a Vietnamese ('vi') and an English ('en') text")
    requires = data.get("requires", {})
    if not isinstance(requires, dict):
        problem("manifest.requires", "requires", "must be a table of plugin name = version range")
        requires = {}
    for dep, spec in requires.items():
        try:
            SpecifierSet(str(spec))
        except InvalidSpecifier:
            problem("manifest.requires", f"requires.{dep}", f"{spec!r} is not a version range")
        if dep == name:
            problem("manifest.requires", f"requires.{dep}", "a plugin cannot require itself")
    permissions = _permissions(data.get("permissions", []), name, problem)
    roles = _roles(data.get("roles", []), name, {p.name for p in permissions}, problem)
    schema = data.get("settings_schema", {"type": "object"})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        problem("manifest.settings_schema", "settings_schema", f"not a valid JSON Schema: {exc.message}")
    capabilities = data.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        problem("manifest.capabilities", "capabilities", "must be a list of strings")
        capabilities = []
    known = {"name", "version", "api", "levels", "title", "description", "requires", "permissions", "roles"}
    known |= {"settings_schema", "capabilities"}
    for key in sorted(set(data) - known):
        problem("manifest.unknown_key", key, "not a manifest key (a typo?)")
    if findings:
        return None, findings
    return (
        Manifest(
            name=str(name),
            version=str(version),
            api=str(api),
            levels=tuple(levels or ()),
            title=dict(data["title"]),
            description=dict(data["description"]),
            requires={str(k): str(v) for k, v in requires.items()},
            permissions=permissions,
            roles=roles,
            settings_schema=schema,
            capabilities=tuple(capabilities),
        ),
        [],
    )


def _permissions(raw: Any, plugin: Any, problem: Any) -> tuple[DeclaredPermission, ...]:
    out: list[DeclaredPermission] = []
    if not isinstance(raw, list):
        problem("manifest.permissions", "permissions", "must be a list of {name, description} tables")
        return ()
    for i, item in enumerate(raw):
        pname = item.get("name") if isinstance(item, dict) else None
        desc = item.get("description") if isinstance(item, dict) else None
        if not isinstance(pname, str) or not pname.startswith(f"{plugin}.") or not re.match(r"^[a-z0-9_.]+$", pname):
            problem(
                "manifest.permission_name",
                f"permissions[{i}]",
                f"permission names start with the plugin's name: '{plugin}.<verb>' (got {pname!r})",
            )
            continue
        if not isinstance(desc, str) or not desc:
            problem("manifest.permission_description", f"permissions[{i}]", f"{pname}: a description is required")
            continue
        out.append(DeclaredPermission(pname, desc))
    return tuple(out)


def _roles(raw: Any, plugin: Any, declared: set[str], problem: Any) -> tuple[DeclaredRole, ...]:
    out: list[DeclaredRole] = []
    if not isinstance(raw, list):
        problem("manifest.roles", "roles", "must be a list of {name, description, permissions} tables")
        return ()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            problem("manifest.roles", f"roles[{i}]", "must be a table")
            continue
        rname, perms = item.get("name"), item.get("permissions", [])
        if not isinstance(rname, str) or not rname.startswith(f"{plugin}."):
            problem("manifest.role_name", f"roles[{i}]", f"role templates are named '{plugin}.<role>' (got {rname!r})")
            continue
        undeclared = [p for p in perms if p not in declared and not str(p).startswith("kernel.")]
        if undeclared:
            problem(
                "manifest.role_permissions",
                f"roles[{i}]",
                f"{rname} uses permissions the manifest does not declare: {undeclared}",
            )
            continue
        out.append(DeclaredRole(rname, str(item.get("description", "")), tuple(perms)))
    return tuple(out)
