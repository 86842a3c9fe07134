"""Fixtures for plugin tests: kernels that see the throwaway plugins of ``plugin_factory``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from tests.conftest import TEST_SECRETS_KEY
from tests.plugin_factory import PluginFactory

RECORDING_CODE = """
from nentang.sdk import hookimpl

CALLS = []


@hookimpl
def nentang_plugin_enable(ctx, settings):
    CALLS.append(("enable", ctx.tenant.code, dict(settings)))


@hookimpl
def nentang_plugin_disable(ctx):
    CALLS.append(("disable", ctx.tenant.code))


@hookimpl
def nentang_event_received(ctx, event):
    CALLS.append(("event", ctx.tenant.code, event.type))
"""

#: Settings of a throwaway plugin: validated values and a secret (``writeOnly``) that reads masked.
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "greeting": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "api_key": {"type": "string", "writeOnly": True},
    },
    "additionalProperties": False,
}

KernelFactory = Callable[..., Kernel]


def calls(plugin: str) -> list[Any]:
    return sys.modules[f"nentang_{plugin}.plugin"].CALLS


@pytest.fixture
def make_kernel(settings: Settings, plugin_factory: PluginFactory, tmp_path: Path) -> Iterator[KernelFactory]:
    built: list[Kernel] = []

    def build(mode: str = "development", **overrides: Any) -> Kernel:
        if mode == "production":  # production refuses to start without a key for plugin secrets
            overrides.setdefault("secrets_key", TEST_SECRETS_KEY)
        kernel = create_kernel(
            settings.with_overrides(
                plugin_path=(str(plugin_factory.root),),
                registry_path=tmp_path / "registry.toml",
                mode=mode,
                **overrides,
            )
        )
        with kernel.db.platform() as session, session.begin():
            kernel.authz.sync_declarations(session)
        kernel.start()
        built.append(kernel)
        return kernel

    yield build
    for kernel in built:
        kernel.close()
