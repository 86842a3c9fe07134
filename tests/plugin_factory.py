"""Installing throwaway plugins for a test: a real package and a real ``*.dist-info`` (metadata,
entry points) written into a folder on ``sys.path`` — what ``pip install`` leaves behind, so
discovery, manifest reading, import and approval all run on the real mechanisms."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nentang.kernel.plugins.approval import installed_files

DEFAULT_CODE = """
from nentang.sdk import hookimpl
"""


def manifest_toml(name: str, version: str, **overrides: Any) -> str:
    data: dict[str, Any] = {
        "name": name,
        "version": version,
        "api": ">=0.1,<0.2",
        "levels": ["central", "province", "commune", "unit"],
        "title": {"vi": f"Tiện ích {name}", "en": f"Plugin {name}"},
        "description": {"vi": f"Mô tả {name}", "en": f"About {name}"},
    }
    data.update(overrides)
    return _toml(data)


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars, tables, arrays = [], [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {_value(value)}")
    out = "\n".join(scalars) + "\n"
    for key, value in tables:
        out += f"\n[{prefix}{key}]\n" + _toml(value, f"{prefix}{key}.")
    for key, items in arrays:
        for item in items:
            out += f"\n[[{prefix}{key}]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in item.items()) + "\n"
    return out


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_value(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass
class PluginFactory:
    root: Path
    made: list[str] = field(default_factory=list)

    def make(
        self,
        name: str,
        code: str = DEFAULT_CODE,
        *,
        version: str = "0.1.0",
        manifest: str | None = None,
        dist_name: str | None = None,
        entry_point: str | None = None,
        extra_files: dict[str, str] | None = None,
        **manifest_overrides: Any,
    ) -> Path:
        """Install plugin ``name``; ``code`` becomes ``nentang_<name>/plugin.py``."""
        package = self.root / f"nentang_{name}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        (package / "plugin.py").write_text(textwrap.dedent(code))
        text = manifest if manifest is not None else manifest_toml(name, version, **manifest_overrides)
        (package / "nentang-plugin.toml").write_text(text)
        for rel, content in (extra_files or {}).items():
            (package / rel).parent.mkdir(parents=True, exist_ok=True)
            (package / rel).write_text(content)
        dist = dist_name or f"nentang-{name}"
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        ep_name = name if entry_point is None else entry_point.split("=")[0].strip()
        ep_value = f"nentang_{name}.plugin" if entry_point is None else entry_point.split("=")[1].strip()
        (info / "entry_points.txt").write_text(f"[nentang.plugins]\n{ep_name} = {ep_value}\n")
        (info / "RECORD").write_text("")
        self.made.append(f"nentang_{name}")
        return package

    def approve(self, registry: Path, name: str, version: str = "0.1.0") -> None:
        """Append an approval of the plugin as installed now (what the review pipeline writes)."""
        files = installed_files(self.root / f"nentang_{name}")
        existing = registry.read_text() if registry.exists() else "schema = 1\n"
        entry = {"name": name, "version": version, "wheel_sha256": "0" * 64, "reviewer": "tests", "files": files}
        registry.write_text(
            existing + "\n[[approved]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in entry.items()) + "\n"
        )
        tomllib.loads(registry.read_text())  # the file must stay valid TOML


@pytest.fixture
def plugin_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginFactory]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    factory = PluginFactory(root)
    yield factory
    for module in [m for m in sys.modules if m.split(".")[0] in factory.made]:
        del sys.modules[module]
