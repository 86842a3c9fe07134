"""The plugin scaffold: ``nentang plugin new NAME`` writes a complete, working plugin project.

What it writes (for ``NAME`` = ``hello``)::

    nentang-hello/
        pyproject.toml                 distribution nentang-hello; entry points nentang.plugins and
                                       nentang.migrations; the SDK range it is built against
        README.md                      what the plugin is and the next steps
        review.toml                    the review checklist (done / todo / exempt with a reason)
        src/nentang_hello/
            nentang-plugin.toml        the manifest: levels, permissions, role templates, settings schema
            plugin.py                  the hook implementations (enable, disable, events, GraphQL)
            models.py                  one tenant-owned table
            service.py                 the plugin's rules, written against TenantContext
            graphql.py                 a query and a mutation, each guarded by a declared permission
            migrations/hello_0001_greeting.py   the table, in the plugin's own Alembic branch
        tests/test_hello.py            tests using the SDK's test kit, and the contract suite

The project passes its own tests and the contract suite as written. The templates are the files
under ``template/`` with ``.tmpl`` appended (so that no tool mistakes them for code of the SDK);
``{{name}}``-style placeholders are replaced, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, final

from nentang.sdk.errors import Conflict, ValidationFailed
from nentang.sdk.manifest import RESERVED_NAMES

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_SUFFIX: Final = ".tmpl"


@final
@dataclass(frozen=True, slots=True)
class ScaffoldNames:
    """Every name the templates use, derived from the plugin's name."""

    #: ``civil_service``: the plugin's name (manifest, entry points, permission prefix).
    name: str
    #: ``CivilService``: the prefix of its GraphQL types and model classes.
    pascal: str
    #: ``nentang_civil_service``: the import package.
    package: str
    #: ``nentang-civil-service``: the distribution (and the project folder).
    distribution: str
    #: ``>=0.1,<0.2``: the SDK versions the plugin declares it supports.
    api: str

    def replacements(self) -> dict[str, str]:
        return {
            "{{name}}": self.name,
            "{{Name}}": self.pascal,
            "{{package}}": self.package,
            "{{dist}}": self.distribution,
            "{{api}}": self.api,
            "{{table}}": f"{self.name}_greeting",
            "{{revision}}": f"{self.name}_0001",
        }


def api_range(sdk_version: str) -> str:
    """The manifest range for plugins built on ``sdk_version``: the same minor release line while
    the SDK is 0.x (minor releases may break), the same major line from 1.0 on."""
    parts = [int(p) for p in re.findall(r"\d+", sdk_version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def names_for(name: str, sdk_version: str) -> ScaffoldNames:
    """The names of plugin ``name``, or a ``ValidationFailed`` that says what a name must be."""
    if not _NAME.match(name or ""):
        raise ValidationFailed(
            f"plugin name {name!r}: 2-40 characters, lower-case letters, digits and '_', starting with a letter "
            "(e.g. 'forms', 'civil_service')",
            code="scaffold.bad_name",
        )
    if name in RESERVED_NAMES:
        raise ValidationFailed(f"{name!r} is reserved by the kernel; choose another name", code="scaffold.bad_name")
    return ScaffoldNames(
        name=name,
        pascal="".join(part.capitalize() for part in name.split("_")),
        package=f"nentang_{name}",
        distribution=f"nentang-{name.replace('_', '-')}",
        api=api_range(sdk_version),
    )


def render_plugin(name: str, parent: Path, *, sdk_version: str | None = None) -> Path:
    """Write the project of plugin ``name`` into ``parent/nentang-<name>``; returns that folder.

    :raises ValidationFailed: the name is not a valid plugin name.
    :raises Conflict: the folder exists already (nothing is overwritten).
    """
    from nentang.sdk import __version__

    names = names_for(name, sdk_version or __version__)
    target = parent / names.distribution
    if target.exists():
        raise Conflict(f"{target} exists already; choose another folder (--dir) or name", code="scaffold.exists")
    files = list(_templates())
    for relative, text in files:
        path = target / _substitute(relative, names)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_substitute(text, names), encoding="utf-8")
    return target


def _templates() -> list[tuple[str, str]]:
    """(relative path without ``.tmpl``, text) of every template file, sorted."""
    root = resources.files(__name__).joinpath("template")
    found: list[tuple[str, str]] = []

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith(_SUFFIX):
                found.append((f"{prefix}{entry.name[: -len(_SUFFIX)]}", entry.read_text(encoding="utf-8")))

    walk(root, "")
    return sorted(found)


def _substitute(text: str, names: ScaffoldNames) -> str:
    for placeholder, value in names.replacements().items():
        text = text.replace(placeholder, value)
    return text


__all__ = ["ScaffoldNames", "api_range", "names_for", "render_plugin"]
