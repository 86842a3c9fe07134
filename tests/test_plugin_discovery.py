"""Discovery and registration: manifests checked before import; broken plugins quarantined, never fatal."""

from __future__ import annotations

from nentang.kernel.plugins.discovery import discover
from nentang.sdk import __version__ as sdk_version
from tests.plugin_factory import PluginFactory, manifest_toml
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory

IMPORT_TRAP = """
raise RuntimeError("this module must not be imported")
"""


def codes(candidate) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in candidate.findings}


def test_a_valid_plugin_is_found_with_its_manifest(plugin_factory: PluginFactory) -> None:
    plugin_factory.make("alpha", RECORDING_CODE)
    [candidate] = discover(sdk_version, [str(plugin_factory.root)])
    assert candidate.usable
    assert candidate.name == "alpha" and candidate.version == "0.1.0" and candidate.distribution == "nentang-alpha"
    assert candidate.manifest is not None and candidate.manifest.title["vi"] == "Tiện ích alpha"


def test_manifests_are_checked_without_importing_and_every_problem_is_reported(plugin_factory: PluginFactory) -> None:
    plugin_factory.make(
        "broken",
        IMPORT_TRAP,
        version="0.1.0",
        api="not a range",
        levels=["galaxy"],
        title={"vi": "chỉ tiếng Việt"},
        colour="blue",
    )
    [candidate] = discover(sdk_version, [str(plugin_factory.root)])
    assert not candidate.usable
    assert {"manifest.api", "manifest.levels", "manifest.title", "manifest.unknown_key"} <= codes(candidate)


def test_an_incompatible_api_is_refused_before_import(plugin_factory: PluginFactory) -> None:
    plugin_factory.make("future", IMPORT_TRAP, api=">=9.0")
    [candidate] = discover(sdk_version, [str(plugin_factory.root)])
    assert codes(candidate) == {"plugin.incompatible_api"}
    assert "9.0" in candidate.findings[0].message


def test_missing_and_mismatched_requirements(plugin_factory: PluginFactory) -> None:
    plugin_factory.make("base", version="1.0.0")
    plugin_factory.make("needs_ghost", requires={"ghost": ">=1"})
    plugin_factory.make("needs_new_base", requires={"base": ">=2"})
    plugin_factory.make("needs_needy", requires={"needs_ghost": ">=0.1"})
    found = {c.name: c for c in discover(sdk_version, [str(plugin_factory.root)])}
    assert found["base"].usable
    assert "plugin.requirement" in codes(found["needs_ghost"])
    assert "1.0.0 is installed" in found["needs_new_base"].findings[0].message
    assert not found["needs_needy"].usable  # the failure cascades


def test_two_distributions_with_the_same_plugin_name_are_both_refused(plugin_factory: PluginFactory) -> None:
    plugin_factory.make("twin")
    plugin_factory.make("twin2", dist_name="other-twin", entry_point="twin = nentang_twin2.plugin")
    found = discover(sdk_version, [str(plugin_factory.root)])
    twins = [c for c in found if c.name == "twin"]
    assert len(twins) == 2
    assert all("plugin.duplicate_name" in codes(c) for c in twins)


def test_reserved_names_and_mismatched_names_are_refused(plugin_factory: PluginFactory) -> None:
    plugin_factory.make("kernel")
    plugin_factory.make("gamma", manifest=manifest_toml("delta", "0.1.0"))
    found = {c.name: c for c in discover(sdk_version, [str(plugin_factory.root)])}
    assert "manifest.reserved_name" in codes(found["kernel"])
    assert "plugin.name_mismatch" in codes(found["gamma"])


def test_a_plugin_whose_import_raises_is_quarantined_and_the_others_load(
    plugin_factory: PluginFactory, make_kernel: KernelFactory
) -> None:
    plugin_factory.make("alpha", RECORDING_CODE)
    plugin_factory.make("exploding", "raise RuntimeError('boom at import')")
    plugin_factory.make("exiting", "import sys\nsys.exit(3)")
    kernel = make_kernel()
    assert "alpha" in kernel.plugins.host.plugins
    assert "boom at import" in kernel.plugins.host.quarantined["exploding"].reason
    assert "SystemExit" in kernel.plugins.host.quarantined["exiting"].reason
    assert kernel.readiness().ready


def test_hook_implementations_are_validated_before_registration(
    plugin_factory: PluginFactory, make_kernel: KernelFactory
) -> None:
    plugin_factory.make("unmarked", "def nentang_event_received(ctx, event):\n    pass\n")
    plugin_factory.make(
        "typo", "from nentang.sdk import hookimpl\n\n@hookimpl\ndef nentang_event_recieved(ctx, event):\n    pass\n"
    )
    plugin_factory.make(
        "badargs", "from nentang.sdk import hookimpl\n\n@hookimpl\ndef nentang_event_received(ctx, evnt):\n    pass\n"
    )
    plugin_factory.make(
        "pushy",
        "from nentang.sdk import hookimpl\n\n@hookimpl(tryfirst=True)\n"
        "def nentang_event_received(ctx, event):\n    pass\n",
    )
    kernel = make_kernel()
    quarantined = kernel.plugins.host.quarantined
    assert {f.code for f in quarantined["unmarked"].findings} == {"hook.unmarked"}
    assert "nentang_event_recieved" in str(quarantined["typo"].findings)
    assert "evnt" in str(quarantined["badargs"].findings)
    assert {f.code for f in quarantined["pushy"].findings} == {"hook.kernel_only_option"}
    assert kernel.plugins.host.plugins == {}
    assert kernel.plugins.host.pm.get_plugins() == set()
