"""Tests of the hello example, written with the SDK's test kit (the ``nentang_*`` fixtures).

Each test gets a kernel of its own on an empty database, with the tree TW → 01 → {00001, 00002};
``@pytest.mark.nentang_plugins`` enables plugins at the commune 00001 before the test runs.
"""

from __future__ import annotations

import pytest
from nentang_hello.greeting import greeting_for, sends_sms

from nentang.sdk import ValidationFailed
from nentang.sdk.testing import HookRecorder, RunningKernel, TenantTree

SECRET = "sk-test-0123456789abcdef"


@pytest.mark.nentang_plugins("hello", settings={"hello": {"greeting": "Chào mừng"}})
def test_each_commune_greets_with_its_own_settings(nentang_kernel: RunningKernel, nentang_tree: TenantTree) -> None:
    nentang_kernel.enable("hello", nentang_tree.other_commune, settings={"greeting": "Kính chào"})
    with nentang_kernel.context("hello", nentang_tree.commune) as ctx:
        assert greeting_for(ctx) == "Chào mừng, Phường Một!"
    with nentang_kernel.context("hello", nentang_tree.other_commune) as ctx:
        assert greeting_for(ctx) == "Kính chào, Phường Hai!"


@pytest.mark.nentang_plugins("hello")
def test_the_enable_hook_runs_only_where_the_plugin_is_enabled(nentang_hooks: HookRecorder) -> None:
    assert nentang_hooks.tenants("nentang_plugin_enable", plugin="hello") == ["00001"]


def test_a_sender_without_its_key_is_refused_and_nothing_is_enabled(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree
) -> None:
    with pytest.raises(ValidationFailed, match="sms_api_key"):
        nentang_kernel.enable("hello", settings={"sms_sender": "UBND-P1"})
    assert "hello" not in nentang_kernel.enabled(nentang_tree.commune)


def test_settings_the_schema_refuses_never_reach_the_hook(
    nentang_kernel: RunningKernel, nentang_hooks: HookRecorder
) -> None:
    with pytest.raises(ValidationFailed, match="sms_api_key"):
        nentang_kernel.enable("hello", settings={"sms_api_key": "too short"})
    assert not nentang_hooks.called("nentang_plugin_enable")


@pytest.mark.nentang_plugins("hello", settings={"hello": {"sms_sender": "UBND-P1", "sms_api_key": SECRET}})
def test_the_secret_reaches_the_plugin_but_no_event(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree, nentang_hooks: HookRecorder
) -> None:
    with nentang_kernel.context("hello") as ctx:
        assert sends_sms(ctx) and ctx.settings["sms_api_key"] == SECRET
    assert nentang_hooks.events(nentang_tree.commune)  # the kernel announced the enable ...
    assert all(SECRET not in str(event.payload) for event in nentang_hooks.events(nentang_tree.commune))  # ... masked


@pytest.mark.nentang_plugins("hello")
def test_disable_then_enable_keeps_the_settings(nentang_kernel: RunningKernel, nentang_hooks: HookRecorder) -> None:
    nentang_kernel.disable("hello")
    assert nentang_hooks.tenants("nentang_plugin_disable", plugin="hello") == ["00001"]
    nentang_kernel.enable("hello")  # no settings given: the stored ones are used again
    assert "hello" in nentang_kernel.enabled()


@pytest.mark.nentang_contract("hello")
def test_hello_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body: settings schema, lifecycle, silence where disabled..."""
