"""Text a request may carry: refused early when no store could keep it or no encoder could write it.

Three kinds of input reach the kernel as well-formed JSON yet break something further in, so they
are refused at the door with a 400 that names where they are:

- a NUL character (U+0000): SQLite stores it and truncates at it in places, PostgreSQL refuses it
  in a text column (the resolver would fail with an internal error);
- a lone surrogate (U+D800–U+DFFF, e.g. ``"\\ud800"`` in JSON): not a character at all, it cannot
  be encoded as UTF-8, so every database and the response encoder fail on it;
- JSON nested deeper than :data:`MAX_JSON_DEPTH`: the decoder and every recursive walk after it
  (variable coercion, settings validation) would exhaust the interpreter's stack.

The check walks the value with an explicit stack (no recursion) and stops at the first problem.
"""

from __future__ import annotations

from typing import Any, Final

#: Deepest nesting of arrays and objects accepted in a request's JSON (variables, extensions, body).
MAX_JSON_DEPTH: Final = 64


class UnsafeText(ValueError):
    """A request value that cannot be kept or encoded; ``where`` names it (``variables.input.name``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.where = where
        self.problem = problem


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be accepted, or ``None``."""
    if "\x00" in text:
        return "contains a NUL character (U+0000), which text cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (U+D800–U+DFFF), which is not a character"
    return None


def check_text(text: str, where: str) -> None:
    problem = text_problem(text)
    if problem is not None:
        raise UnsafeText(where, problem)


def check_json(value: Any, where: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`UnsafeText` for the first string (or key) of ``value`` that cannot be kept,
    or for nesting deeper than ``max_depth``."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise UnsafeText(path, f"nests deeper than {max_depth} levels of arrays and objects")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, f"{path} (a key)")
                    stack.append((child, f"{path}.{key}", depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


__all__ = ["MAX_JSON_DEPTH", "UnsafeText", "check_json", "check_text", "text_problem"]
