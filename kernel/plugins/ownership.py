"""Which tables each loaded plugin may touch: the ones it owns, and those of the plugins it requires.

The runtime guard (``kernel/data/plugin_guard.py``) and SQLite's authorizer refuse every other table
while a plugin's code runs; they read the answer from the call's marker
(:attr:`~nentang.kernel.plugins.running.PluginCall.tables`), computed here once per host generation.

A plugin ``p`` owns:

- the tables of the mapped classes its package (``nentang_p``) defines, named ``p_<table>`` as the
  review's contract requires — a class of its own named after a kernel or another plugin's table
  (through a metadata of its own, say) claims nothing;
- the tables its own migrations create (``op.create_table("p_...")`` in the version files of its
  ``nentang.migrations`` entry point, read as text, never imported), with the same naming rule: a
  table no class describes is still the plugin's;
- the tables of mapped classes its modules import from outside every plugin package and outside
  NenTang itself (a shared model library; the test suite's fixture models), unless the kernel, or
  another plugin by its name, owns them.

Classes are found in the plugin's modules as they stand when it is registered: a model module the
plugin imports only later, inside a function, adds nothing (its migrations still name the table).
Kernel tables (``kernel_*``, ``alembic_version``) are never a plugin's. A plugin that declares
``[requires]`` may also touch what those plugins own: it reads them through their published API
(``nentang_feedback.api``), whose code runs as the requiring plugin's.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Final

from importlib_metadata import entry_points
from sqlalchemy import Table

if TYPE_CHECKING:
    from nentang.kernel.plugins.host import LoadedPlugin

MIGRATIONS_GROUP: Final = "nentang.migrations"
_KERNEL_TABLES: Final = ("kernel_", "alembic_version")


def plugin_tables(plugins: Mapping[str, LoadedPlugin], others: Iterable[str] = ()) -> dict[str, frozenset[str]]:
    """The tables each of ``plugins`` may touch, by plugin name.

    ``others`` are names of plugins known but not loaded (quarantined): their tables are theirs
    too, so no loaded plugin can claim them by import.
    """
    names = set(plugins) | set(others)
    own = {name: _own_tables(name, loaded, names) for name, loaded in plugins.items()}
    taken = set().union(*own.values()) if own else set()
    for name in plugins:
        own[name] |= {t for t in _imported_tables(name) if t not in taken and _prefix_owner(t, names) is None}
    return {
        name: frozenset(own[name].union(*(own[dep] for dep in loaded.manifest.requires if dep in own)))
        for name, loaded in plugins.items()
    }


def _own_tables(name: str, loaded: LoadedPlugin, names: set[str]) -> set[str]:
    package = f"nentang_{name}"
    found = {
        table.name
        for cls in _mapped_classes(_package_modules(package))
        if _in_package(cls.__module__, package)
        for table in [cls.__table__]
    }
    found |= _migration_tables(name, loaded.package_dir)
    return {t for t in found if _prefix_owner(t, names) == name}


def _imported_tables(name: str) -> set[str]:
    return {
        cls.__table__.name
        for cls in _mapped_classes(_package_modules(f"nentang_{name}"))
        if not _from_plugin_or_nentang(cls.__module__)
    }


def _prefix_owner(table: str, names: set[str]) -> str | None:
    """The plugin whose name prefixes ``table`` (the longest, should ``feed`` and ``feed_back``
    both be installed), or ``None``; never anyone's for a kernel table."""
    if table.startswith(_KERNEL_TABLES):
        return None
    matching = [n for n in names if table.startswith(f"{n}_")]
    return max(matching, key=len) if matching else None


def _package_modules(package: str) -> list[ModuleType]:
    # copy(), not list(items()): a collection during the iteration can run a finaliser that
    # imports, and another thread may import at any time ("dictionary changed size")
    return [m for key, m in sys.modules.copy().items() if _in_package(key, package) and isinstance(m, ModuleType)]


def _mapped_classes(modules: list[ModuleType]) -> Iterable[type]:
    seen: set[int] = set()
    for module in modules:
        for value in vars(module).copy().values():
            if isinstance(value, type) and id(value) not in seen and isinstance(value.__dict__.get("__table__"), Table):
                seen.add(id(value))
                yield value


def _in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _from_plugin_or_nentang(module: str) -> bool:
    top = module.partition(".")[0]
    return top == "nentang" or top.startswith("nentang_")


def _migration_tables(name: str, package_dir: Path) -> set[str]:
    """Tables named by ``create_table`` calls in the plugin's own migration package (parsed only)."""
    package = f"nentang_{name}."
    found: set[str] = set()
    for ep in entry_points(group=MIGRATIONS_GROUP, name=name):
        if not ep.value.startswith(package):
            continue
        folder = package_dir.joinpath(*ep.value.removeprefix(package).split("."))
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            found |= _created_tables(path)
    return found


def _created_tables(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_table"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
