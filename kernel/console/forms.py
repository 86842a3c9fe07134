"""Reading a console form post, and the errors a form page shows.

Console forms are plain URL-encoded posts (they work with JavaScript off), read here with the
standard library: no multipart parser is needed, and a body larger than :data:`MAX_FORM_BYTES` is
refused before it is parsed. Each value is checked with the kernel's text rule (no control
characters, no lone surrogates) so a field's error names the field.

A form page's errors are a list of :class:`FieldError`: the error summary at the top links to each
field (``#<field>``), and each field shows its own message beside it (the GOV.UK pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final
from urllib.parse import parse_qs

from starlette.requests import Request

from nentang.kernel.http.request_text import text_problem
from nentang.sdk.errors import ValidationFailed

MAX_FORM_BYTES: Final = 64 * 1024
FORM_TYPE: Final = "application/x-www-form-urlencoded"


@final
@dataclass(frozen=True, slots=True)
class FieldError:
    #: The field's id in the page (the summary links to ``#field``); ``""`` for the form as a whole.
    field: str
    #: Already translated text, shown in the summary and beside the field.
    message: str


async def form_of(request: Request) -> dict[str, str]:
    """The posted fields (the first value of each), or ValidationFailed naming what is wrong."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise ValidationFailed("send the form as application/x-www-form-urlencoded", code="console.bad_form")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ValidationFailed("the form is too large", code="console.bad_form")
    fields = {name: values[0] for name, values in parse_qs(body.decode("utf-8", errors="replace")).items()}
    for name, value in fields.items():
        problem = text_problem(value)
        if problem is not None:
            raise ValidationFailed(f"field {name!r} {problem}", code="console.bad_form")
    return fields


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.message for e in errors if e.field}


async def form_with_choices(request: Request, name: str) -> tuple[dict[str, str], list[str]]:
    """:func:`form_of`, and every value of the repeated field ``name`` (its checkboxes)."""
    fields = await form_of(request)
    return fields, parse_qs((await request.body()).decode("utf-8", errors="replace")).get(name, [])


def form_values(fields: dict[str, str], chosen: list[str], errors: list[FieldError]) -> dict[str, object]:
    """What a form page with checkboxes shows again: the fields typed, the boxes ticked, the errors."""
    return {"fields": fields, "chosen": chosen, "errors": errors, "field_errors": errors_by_field(errors)}
