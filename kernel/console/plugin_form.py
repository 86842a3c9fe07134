"""A plugin's settings form, generated from its settings JSON Schema, and the posted form read back.

Each top-level property of a simple kind becomes a field: ``string`` a text input (a secret a
password input showing the mask, which the service reads as "keep the stored value"), ``number``
and ``integer`` a text input with a numeric keyboard, ``boolean`` a checkbox, an ``enum`` a
choice. The label is the property's ``title`` (else its name), the hint its ``description``. A
property of another kind (an object, a list) is not offered: its current value is sent back
unchanged, so saving the form never loses it. Each field's id is ``setting-<name>``.

Reading the post only turns text into the schema's types; whether the values are right is decided
by the service (the same ``update_settings`` as GraphQL), whose per-field problems
(:class:`~nentang.kernel.plugins.settings.SettingsInvalid`) are shown beside each field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from starlette.requests import Request

from nentang.kernel.console.forms import FieldError
from nentang.kernel.console.i18n import N_
from nentang.kernel.console.messages import text
from nentang.kernel.plugins.settings import MASK, SettingProblem, is_secret

PREFIX: Final = "setting-"
#: Names a field id can carry as is (anything else is kept, not offered).
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_SIMPLE: Final = {"string", "number", "integer", "boolean"}

NOT_WHOLE = N_("Enter a whole number, like 10")
NOT_NUMBER = N_("Enter a number, like 2.5")
NOT_CHOICE = N_("Choose one of the options")
#: The service's problem, by JSON Schema keyword, in the page's language (``%(limit)s`` filled in).
BY_KEYWORD: Final = {
    "required": N_("Enter a value: this setting is required"),
    "minimum": N_("Enter a number of at least %(limit)s"),
    "maximum": N_("Enter a number of at most %(limit)s"),
    "exclusiveMinimum": N_("Enter a number greater than %(limit)s"),
    "exclusiveMaximum": N_("Enter a number less than %(limit)s"),
    "minLength": N_("Enter at least %(limit)s characters"),
    "maxLength": N_("Enter at most %(limit)s characters"),
    "pattern": N_("Enter a value in the expected format"),
    "enum": N_("Choose one of the options"),
    "type": N_("Enter a value of the expected kind (%(limit)s)"),
}


@final
@dataclass(frozen=True, slots=True)
class SettingField:
    name: str
    #: ``text``, ``password``, ``number`` (a text input, numeric keyboard), ``checkbox``, ``select``.
    kind: str
    label: str
    hint: str
    required: bool
    #: The value shown (text as typed or stored; for a checkbox, "on" when ticked).
    value: str
    #: For a choice: (value, label) pairs.
    options: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return PREFIX + self.name


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def setting_fields(schema: Mapping[str, Any], current: Mapping[str, Any]) -> list[SettingField]:
    """The form's fields, in the schema's order, showing ``current`` (masked) values."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = []
    for name, sub in properties.items() if isinstance(properties, Mapping) else ():
        if not isinstance(sub, Mapping) or not _NAME.match(str(name)):
            continue
        kind, options = _kind(sub)
        if kind is None:
            continue
        value = current.get(name, sub.get("default"))
        title, hint = sub.get("title"), sub.get("description")
        fields.append(
            SettingField(
                name=name,
                kind=kind,
                label=str(title) if title else name,
                hint=str(hint) if hint else "",
                required=name in required,
                value=_shown(value),
                options=options,
            )
        )
    return fields


def _kind(sub: Mapping[str, Any]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    if isinstance(sub.get("enum"), list) and all(isinstance(v, str | int | float) for v in sub["enum"]):
        return "select", tuple((_shown(v), _shown(v)) for v in sub["enum"])
    kind = sub.get("type")
    if kind not in _SIMPLE:
        return None, ()
    if kind == "boolean":
        return "checkbox", ()
    if kind in ("number", "integer"):
        return "number", ()
    return ("password" if is_secret(sub) else "text"), ()


def read_settings(
    request: Request, schema: Mapping[str, Any], current: Mapping[str, Any], posted: Mapping[str, str]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The settings the post means (fields not offered keep ``current``), and the fields whose text
    is not of the schema's type. An empty optional field leaves its setting out."""
    properties = schema.get("properties", {})
    offered = {f.name: f for f in setting_fields(schema, current)}
    wanted = {k: v for k, v in current.items() if k not in offered}
    errors: list[FieldError] = []
    for name, found in offered.items():
        sub = properties[name]
        raw = posted.get(found.id, "")
        if found.kind == "checkbox":
            wanted[name] = bool(raw)
            continue
        if raw == "" and found.kind != "password":
            continue  # left out: the service names it if it is required
        if found.kind == "select":
            choices = {_shown(v): v for v in sub["enum"]}
            if raw not in choices:
                errors.append(FieldError(found.id, text(request, NOT_CHOICE)))
            else:
                wanted[name] = choices[raw]
        elif found.kind == "number":
            number = _number(raw, whole=sub.get("type") == "integer")
            if number is None:
                message = NOT_WHOLE if sub.get("type") == "integer" else NOT_NUMBER
                errors.append(FieldError(found.id, text(request, message)))
            else:
                wanted[name] = number
        elif found.kind == "password" and raw == "":
            wanted[name] = MASK  # nothing typed: keep the stored secret (if any)
        else:
            wanted[name] = raw
    return wanted, errors


def _number(raw: str, *, whole: bool) -> int | float | None:
    cleaned = raw.strip().replace(",", ".")  # a Vietnamese decimal comma is accepted
    try:
        if whole:
            return int(cleaned)
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def problem_errors(request: Request, problems: tuple[SettingProblem, ...], offered: set[str]) -> list[FieldError]:
    """The service's problems as the form's errors: beside its field if offered, else for the form."""
    errors = []
    for problem in problems:
        template = BY_KEYWORD.get(problem.keyword)
        message = text(request, template) % {"limit": problem.limit} if template else problem.message
        field = PREFIX + problem.field if problem.field in offered else ""
        errors.append(FieldError(field, message if field else f"{problem.field}: {message}".lstrip(": ")))
    return errors
