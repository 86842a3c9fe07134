"""Settings schema helpers: describe, check and read a plugin's per-tenant settings.

A plugin declares its settings as a JSON Schema (Draft 2020-12) of an object, under
``[settings_schema]`` in its manifest. The kernel validates every tenant's settings against it before
they reach ``nentang_plugin_enable`` or ``ctx.settings``, and masks secrets when it shows them. These
helpers apply the same rules in a plugin's own code and tests::

    problems = check_settings_schema(manifest.settings_schema)      # [] when the schema is usable
    settings = validate_settings(schema, {"greeting": "Xin chào"})  # or ValidationFailed, every violation
    greeting = {**settings_defaults(schema), **ctx.settings}["greeting"]

A property is a secret (shown masked, never logged or audited) when its schema says
``"writeOnly": true``, ``"format": "password"`` or ``"x-secret": true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from nentang.sdk.errors import ValidationFailed


def is_secret_setting(property_schema: Mapping[str, Any]) -> bool:
    """Whether a property's schema marks it as a secret."""
    return bool(
        property_schema.get("writeOnly")
        or property_schema.get("format") == "password"
        or property_schema.get("x-secret")
    )


def check_settings_schema(schema: Mapping[str, Any]) -> list[str]:
    """Every problem with a settings schema (empty when it is usable): valid JSON Schema, of an
    object, and every entry of its ``examples`` valid against it."""
    try:
        Draft202012Validator.check_schema(dict(schema))
    except SchemaError as exc:
        return [f"not a valid JSON Schema: {exc.message}"]
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append('settings are a JSON object: the schema says type "object"')
    examples = schema.get("examples", [])
    if not isinstance(examples, list):
        problems.append("examples must be a list of settings objects")
        examples = []
    validator = Draft202012Validator(dict(schema))
    for i, example in enumerate(examples):
        problems.extend(f"examples[{i}]: {error.message}" for error in validator.iter_errors(example))
    return problems


def validate_settings(schema: Mapping[str, Any], settings: Mapping[str, Any], *, plugin: str = "") -> dict[str, Any]:
    """``settings`` as a plain dict if they satisfy ``schema``; else one :class:`ValidationFailed`
    (code ``plugin.settings``) naming every violation by its path."""
    errors = sorted(Draft202012Validator(dict(schema)).iter_errors(dict(settings)), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '(settings)'}: {e.message}" for e in errors]
        whose = f" for {plugin!r}" if plugin else ""
        raise ValidationFailed(f"settings{whose} are not valid: " + "; ".join(lines), code="plugin.settings")
    return dict(settings)


def settings_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``default`` of each top-level property that declares one."""
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        return {}
    return {key: sub["default"] for key, sub in properties.items() if isinstance(sub, Mapping) and "default" in sub}


__all__ = ["check_settings_schema", "is_secret_setting", "settings_defaults", "validate_settings"]
