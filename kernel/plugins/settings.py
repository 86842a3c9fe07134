"""Per-tenant plugin settings: validated against the plugin's JSON Schema; secrets masked on read.

A property is a secret when its schema says ``"writeOnly": true``, ``"format": "password"`` or
``"x-secret": true``. Reads show :data:`MASK` in its place; writing :data:`MASK` back keeps the
stored value, so an administrator can edit other settings without re-entering secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from jsonschema import Draft202012Validator, ValidationError

from nentang.sdk.errors import ValidationFailed

MASK: Final = "********"


def is_secret(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("writeOnly") or schema.get("format") == "password" or schema.get("x-secret"))


@final
@dataclass(frozen=True, slots=True)
class SettingProblem:
    """One violation, for a form to show beside its field."""

    #: The top-level setting it concerns (a missing required one included); ``""`` for the whole.
    field: str
    #: The JSON Schema keyword violated (``minimum``, ``type``, ``required``...).
    keyword: str
    #: That keyword's value in the schema (the limit, the type, the choices).
    limit: Any
    #: The validator's English sentence.
    message: str


class SettingsInvalid(ValidationFailed):
    """Settings that do not satisfy the plugin's schema; ``problems`` name each field (the console
    shows them beside its fields; GraphQL and the command line show the message, as before)."""

    def __init__(self, message: str, problems: tuple[SettingProblem, ...]) -> None:
        super().__init__(message, code="plugin.settings")
        self.problems = problems


def _problems(error: ValidationError) -> list[SettingProblem]:
    if error.validator == "required" and not error.path and isinstance(error.instance, Mapping):
        # one error per missing property, naming it in its message ("'greeting' is a required property")
        missing = [name for name in error.validator_value if name not in error.instance]
        named = [name for name in missing if repr(name) in error.message] or missing[:1]
        return [SettingProblem(str(name), "required", None, error.message) for name in named]
    field = str(error.path[0]) if error.path else ""
    return [SettingProblem(field, str(error.validator), error.validator_value, error.message)]


def validate(plugin: str, schema: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings if they satisfy the schema; else every violation, in one error."""
    errors = sorted(Draft202012Validator(schema).iter_errors(dict(settings)), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '(settings)'}: {e.message}" for e in errors]
        problems = tuple(p for e in errors for p in _problems(e))
        raise SettingsInvalid(f"settings for {plugin!r} are not valid: " + "; ".join(lines), problems)
    return dict(settings)


def masked(schema: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to show: every secret (at any depth) replaced by :data:`MASK`."""
    properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        sub = properties.get(key, {})
        if is_secret(sub):
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = masked(sub, value)
        else:
            out[key] = value
    return out


def merge_secrets(schema: Mapping[str, Any], new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` with every secret still equal to :data:`MASK` restored from ``old``."""
    properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    out: dict[str, Any] = {}
    for key, value in new.items():
        sub = properties.get(key, {})
        if is_secret(sub) and value == MASK:
            if key in old:
                out[key] = old[key]
            continue
        if isinstance(value, Mapping) and isinstance(old.get(key), Mapping):
            out[key] = merge_secrets(sub, value, old[key])
        else:
            out[key] = value
    return out


def dumps(settings: Mapping[str, Any]) -> str:
    return json.dumps(dict(settings), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
