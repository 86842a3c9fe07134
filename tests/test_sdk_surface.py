"""The SDK's public surface is held against a committed list (``sdk/public-api.txt``).

What a plugin may rely on — the facade's ``__all__``, the hooks, the plugin policy's names, the test
kit's names, fixtures and markers — is rendered with signatures and compared with the committed file, so nothing becomes
public, changes shape or disappears by accident. A change the compatibility policy allows
(``docs/sdk-compatibility.md``: additions in a minor release, removals only after a deprecation)
is made by regenerating the file and committing it with the change::

    .venv/bin/python tests/test_sdk_surface.py --write

Also here: no first-party plugin imports the kernel, and the facade keeps its own rules.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import sys
import types
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_API = ROOT / "sdk" / "public-api.txt"
PLUGINS = ROOT / "plugins"
REGENERATE = ".venv/bin/python tests/test_sdk_surface.py --write"
HEADER = f"""\
# The public API of nentang-sdk, held by tests/test_sdk_surface.py (see docs/sdk-compatibility.md).
# Regenerate after a change the policy allows: {REGENERATE}
"""


# -- rendering -----------------------------------------------------------------------------------------


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return ""
    return value if isinstance(value, str) else inspect.formatannotation(value)


def signature(function: Any, *, drop_self: bool = False) -> str:
    sig = inspect.signature(function)
    parts: list[str] = []
    star_done = False
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        text = prefix + p.name
        if (ann := _annotation(p.annotation)) != "":
            text += f": {ann}"
        if p.default is not p.empty:
            text += f" = {p.default!r}" if ann else f"={p.default!r}"
        parts.append(text)
    returns = _annotation(sig.return_annotation)
    return f"({', '.join(parts)})" + (f" -> {returns}" if returns else "")


def _members(cls: type) -> Iterator[str]:
    """Public methods and properties defined by ``cls`` itself."""
    for name, value in sorted(vars(cls).items()):
        if name.startswith("_") and name not in ("__call__", "__iter__", "__getitem__", "__len__"):
            continue
        if isinstance(value, property):
            returns = _annotation(inspect.signature(value.fget).return_annotation) if value.fget else ""
            yield f"{cls.__name__}.{name}: property" + (f" -> {returns}" if returns else "")
        elif isinstance(value, classmethod | staticmethod):
            yield f"{cls.__name__}.{name}{signature(value.__func__, drop_self=isinstance(value, classmethod))}"
        elif inspect.isfunction(value):
            yield f"{cls.__name__}.{name}{signature(value, drop_self=True)}"


def describe(name: str, obj: Any) -> list[str]:
    if isinstance(obj, type) and issubclass(obj, BaseException):
        base = obj.__mro__[1].__name__
        code = getattr(obj, "code", None)
        extra = f" code={code!r}" if isinstance(code, str) else ""
        return [f"{name} = exception({base}){extra}", *_members(obj)]
    if isinstance(obj, type) and dataclasses.is_dataclass(obj):
        params = obj.__dataclass_params__  # type: ignore[attr-defined]
        flags = ", frozen" if params.frozen else ""
        fields = signature(obj).split(" ->")[0]
        return [f"{name} = dataclass{flags} {fields}", *_members(obj)]
    if isinstance(obj, type) and getattr(obj, "_is_protocol", False):
        return [f"{name} = protocol", *_members(obj)]
    if isinstance(obj, type):
        bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
        fields = [
            f"{name}.{field}: {_annotation(info.annotation)}"
            for field, info in sorted(getattr(obj, "model_fields", {}).items())
        ]
        return [f"{name} = class({bases})", *fields, *_members(obj)]
    if inspect.isfunction(obj):
        return [f"{name}{signature(obj)}"]
    if isinstance(obj, types.UnionType) or typing.get_origin(obj) is not None:
        return [f"{name} = {inspect.formatannotation(obj)}"]
    if isinstance(obj, tuple | str | int | frozenset):
        return [f"{name} = {obj!r}"]
    return [f"{name} = {type(obj).__name__}"]


def public_api() -> str:
    import nentang.sdk
    import nentang.sdk.policy
    import nentang.sdk.testing
    import nentang.sdk.testing.plugin
    from nentang.sdk import hookspecs

    lines = [HEADER]
    lines.append("[nentang.sdk]")
    for name in nentang.sdk.__all__:
        if name == "__version__":
            lines.append("__version__ = str")
            continue
        lines.extend(describe(name, getattr(nentang.sdk, name)))
    lines.append("\n[nentang.sdk.hookspecs]")
    for name, function in sorted(vars(hookspecs).items()):
        if name.startswith("nentang_") and inspect.isfunction(function):
            opts = getattr(function, "nentang_spec", {}) or {}
            flags = sorted(k for k, v in opts.items() if v is True)
            lines.append(f"{name}{signature(function)}" + (f"  [{', '.join(flags)}]" if flags else ""))
    lines.append("\n[nentang.sdk.policy]")
    for name in nentang.sdk.policy.__all__:
        lines.extend(describe(name, getattr(nentang.sdk.policy, name)))
    lines.append("\n[nentang.sdk.testing]")
    for name in nentang.sdk.testing.__all__:
        lines.extend(describe(name, getattr(nentang.sdk.testing, name)))
    lines.append("\n[nentang.sdk.testing fixtures]")
    lines.extend(nentang.sdk.testing.FIXTURES)
    lines.append("\n[nentang.sdk.testing markers]")
    lines.extend(nentang.sdk.testing.plugin.MARKERS)
    return "\n".join(lines) + "\n"


# -- the tests -------------------------------------------------------------------------------------------


def test_the_public_api_matches_the_committed_list() -> None:
    current = public_api()
    committed = PUBLIC_API.read_text(encoding="utf-8") if PUBLIC_API.exists() else ""
    if current != committed:
        import difflib

        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True), current.splitlines(keepends=True), "committed", "code", n=1
            )
        )
        raise AssertionError(
            "the SDK's public API changed. If the change is intended and docs/sdk-compatibility.md allows it "
            "(additions in a minor release; removals only in the release a deprecation announced), regenerate "
            f"the list with `{REGENERATE}` and commit it with the change:\n{diff}"
        )


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff keeps ``__all__`` in (RUF022): CONSTANTS, then Classes, then the rest."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_is_exactly_the_public_names() -> None:
    import nentang.sdk

    assert nentang.sdk.__all__ == sorted(nentang.sdk.__all__, key=isort_order)
    public = {
        name
        for name, value in vars(nentang.sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(nentang.sdk.__all__) - {"__version__"}


def test_the_kits_all_is_sorted_and_is_exactly_its_public_names() -> None:
    import nentang.sdk.testing

    assert nentang.sdk.testing.__all__ == sorted(nentang.sdk.testing.__all__, key=isort_order)
    public = {
        name
        for name, value in vars(nentang.sdk.testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(nentang.sdk.testing.__all__)


def test_the_facade_names_its_public_objects_by_their_public_path() -> None:
    import nentang.sdk

    for name in nentang.sdk.__all__:
        obj = getattr(nentang.sdk, name)
        if name in nentang.sdk._KEEP_MODULE or not (isinstance(obj, type) or inspect.isfunction(obj)):
            continue
        assert obj.__module__ == "nentang.sdk", name
        assert getattr(sys.modules[obj.__module__], obj.__qualname__) is obj, name  # pickles by that path
    for name in nentang.sdk._KEEP_MODULE:  # their annotations resolve in their own module
        typing.get_type_hints(getattr(nentang.sdk, name))


def test_the_facade_reexports_nothing_of_the_kernel_or_whole_packages() -> None:
    import nentang.sdk

    for name in set(nentang.sdk.__all__) - {"__version__"}:
        obj = getattr(nentang.sdk, name)
        assert not isinstance(obj, types.ModuleType), name
        defined_in = getattr(obj, "__module__", None) or type(obj).__module__
        assert defined_in.startswith("nentang.sdk") or name == "hookimpl", (name, defined_in)


def test_the_version_is_the_distributions() -> None:
    import nentang.sdk

    assert nentang.sdk.__version__ == importlib.metadata.version("nentang-sdk")


def test_no_first_party_plugin_imports_the_kernel() -> None:
    from nentang.sdk.policy import check_kernel_imports

    hits = check_kernel_imports(PLUGINS) if PLUGINS.exists() else []
    assert hits == [], "plugins import only nentang.sdk (and their tests nentang.sdk.testing): " + ", ".join(
        f"{hit.location}: {hit.message}" for hit in hits
    )


def test_the_kernel_import_scan_finds_every_form(tmp_path: Path) -> None:
    from nentang.sdk.policy import check_kernel_imports

    (tmp_path / "a.py").write_text(
        "import nentang.kernel\nfrom nentang.kernel.runtime import Kernel\nfrom nentang import kernel\n"
        "import importlib\nimportlib.import_module('nentang.kernel.data')\nfrom nentang.sdk import hookimpl\n"
        "from nentang import sdk\n"
    )
    assert [hit.location for hit in check_kernel_imports(tmp_path)] == ["a.py:1", "a.py:2", "a.py:3", "a.py:5"]
    assert {hit.code for hit in check_kernel_imports(tmp_path)} == {"static.kernel_import"}


# -- require_sdk and deprecations ------------------------------------------------------------------------


def test_require_sdk_accepts_its_range_and_names_the_mismatch() -> None:
    import pytest

    from nentang.sdk import NentangError, ValidationFailed, __version__, require_sdk

    require_sdk(f"=={__version__}")
    require_sdk(">=0.1,<0.2", version="0.1.7")
    with pytest.raises(NentangError, match=r"needs nentang-sdk >=0.2,<0.3, but nentang-sdk 0.1.7") as refused:
        require_sdk(">=0.2,<0.3", version="0.1.7")
    assert refused.value.code == "sdk.incompatible"
    with pytest.raises(ValidationFailed) as bad:
        require_sdk("zero point one")
    assert bad.value.code == "sdk.bad_range"


def test_a_renamed_name_answers_as_an_alias_and_warns(monkeypatch: Any) -> None:
    import pytest

    import nentang.sdk
    from nentang.sdk import deprecated

    monkeypatch.setattr(deprecated, "ALIASES", {"TenantInfo": ("TenantRef", deprecated.NentangRemovedIn02Warning)})
    with pytest.warns(
        deprecated.NentangRemovedIn02Warning,
        match=r"nentang.sdk.TenantInfo .* removed in nentang-sdk 0.2; use nentang.sdk.TenantRef",
    ) as caught:
        assert nentang.sdk.TenantInfo is nentang.sdk.TenantRef  # type: ignore[attr-defined]
    assert caught[0].filename == __file__  # reported at the plugin's own line
    with pytest.raises(AttributeError, match="has no attribute 'TenantInfos'"):
        nentang.sdk.TenantInfos  # type: ignore[attr-defined]  # noqa: B018


def test_deprecation_warnings_say_when_and_are_deprecation_warnings() -> None:
    import pytest

    from nentang.sdk import NentangDeprecationWarning
    from nentang.sdk.deprecated import NentangRemovedIn02Warning, NentangRemovedIn10Warning, warn_deprecated

    for category in (NentangRemovedIn02Warning, NentangRemovedIn10Warning):
        assert issubclass(category, NentangDeprecationWarning) and issubclass(category, DeprecationWarning)
        assert (
            category.removed_in
            and category.__name__ == f"NentangRemovedIn{category.removed_in.replace('.', '')}Warning"
        )
    with pytest.raises(TypeError, match="does not say which release"):
        warn_deprecated("x", replacement="y", category=NentangDeprecationWarning)

    def old() -> None:  # what an SDK function being removed does
        warn_deprecated("ctx.old()", replacement="ctx.new()", category=NentangRemovedIn10Warning)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old()  # the plugin's line: the warning points here
    assert caught[0].category is NentangRemovedIn10Warning and caught[0].filename == __file__


def test_settings_schema_helpers() -> None:
    import pytest

    from nentang.sdk import (
        ValidationFailed,
        check_settings_schema,
        is_secret_setting,
        settings_defaults,
        validate_settings,
    )

    schema = {
        "type": "object",
        "properties": {
            "greeting": {"type": "string", "default": "Xin chào"},
            "key": {"type": "string", "writeOnly": True},
        },
        "required": ["key"],
        "examples": [{"key": "k"}, {"greeting": 1}],
    }
    assert set(check_settings_schema(schema)) == {
        "examples[1]: 'key' is a required property",
        "examples[1]: 1 is not of type 'string'",
    }
    assert check_settings_schema({"type": "array"}) == ['settings are a JSON object: the schema says type "object"']
    assert check_settings_schema({"type": "objekt"})[0].startswith("not a valid JSON Schema")
    assert validate_settings(schema, {"key": "k"}) == {"key": "k"}
    with pytest.raises(
        ValidationFailed, match=r"settings for 'hello' are not valid: \(settings\): 'key' is a required"
    ) as bad:
        validate_settings(schema, {}, plugin="hello")
    assert bad.value.code == "plugin.settings"
    assert settings_defaults(schema) == {"greeting": "Xin chào"}
    assert is_secret_setting(schema["properties"]["key"]) and not is_secret_setting(schema["properties"]["greeting"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {REGENERATE}")
    PUBLIC_API.write_text(public_api(), encoding="utf-8")
    print(f"wrote {PUBLIC_API.relative_to(ROOT)}")
