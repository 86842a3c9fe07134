"""Arguments and selections for calling a GraphQL field the review knows only by its schema.

:func:`argument_sets` gives the argument values of a field's calls: a *base* call (every argument
with its first typical value, nullable ones filled in too, so code behind an optional or nested
argument is reached), then one call per other typical value of each argument, one at a time.
Typical values: for strings ``"review"``, the empty string, ``"-1"`` and a long string; for
integers 1, 0, -1 and a large one; each value of an enum; input objects built recursively (once
with every field, once with the required ones only); lists of one item; ``None`` for a nullable
argument. :func:`selection` is a valid selection of a field's result (its scalar fields, a few
levels down, and ``__typename``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)

#: Calls per field at most (the base call first).
MAX_CALLS: Final = 16
_MAX_DEPTH: Final = 4
_LONG: Final = "dài " * 2500

_SCALARS: Final[dict[str, list[Any]]] = {
    "String": ["review", "", "-1", _LONG],
    "ID": ["1", "", "-1"],
    "Int": [1, 0, -1, 2**31 - 1],
    "Float": [1.5, 0.0, -1.0],
    "Boolean": [True, False],
    "DateTime": ["2026-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00"],
    "Date": ["2026-01-01", "1900-01-01"],
    "Time": ["12:00:00"],
    "Decimal": ["1.5", "0", "-1"],
    "UUID": ["00000000-0000-4000-8000-000000000001"],
    "JSON": [{}, {"review": 1}, []],
    "Base64": ["cmV2aWV3", ""],
}


def typical(kind: GraphQLInputType, depth: int = 0) -> list[Any]:
    """Typical values of an input type, the most ordinary first."""
    nullable = not isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    values: list[Any]
    if isinstance(inner, GraphQLList):
        values = [[v] for v in typical(inner.of_type, depth + 1)[:2]] + [[]]
    elif isinstance(inner, GraphQLEnumType):
        values = list(inner.values)
    elif isinstance(inner, GraphQLInputObjectType):
        values = [] if depth >= _MAX_DEPTH else _objects(inner, depth)
    elif isinstance(inner, GraphQLScalarType):
        values = list(_SCALARS.get(inner.name, ["review", ""]))
    else:
        values = []
    return [*values, None] if nullable or not values else values


def _objects(kind: GraphQLInputObjectType, depth: int) -> list[dict[str, Any]]:
    full: dict[str, Any] = {}
    for name, field in kind.fields.items():
        options = typical(field.type, depth + 1)
        full[name] = options[0] if options else None
    minimal = _required_only(kind, depth)
    return [full] if minimal == full else [full, minimal]


def _required_only(kind: GraphQLInputObjectType, depth: int) -> dict[str, Any]:
    """The object with its required fields alone, nested objects likewise."""
    out: dict[str, Any] = {}
    for name, field in kind.fields.items():
        if not isinstance(field.type, GraphQLNonNull) or field.default_value is not Undefined:
            continue
        inner = field.type.of_type
        if isinstance(inner, GraphQLInputObjectType) and depth + 1 < _MAX_DEPTH:
            out[name] = _required_only(inner, depth + 1)
        else:
            options = typical(field.type, depth + 1)
            out[name] = options[0] if options else None
    return out


def argument_sets(field: GraphQLField) -> list[dict[str, Any]]:
    """The arguments of each call of ``field`` (see the module's description)."""
    options = {name: typical(arg.type) for name, arg in field.args.items()}
    base = {name: values[0] for name, values in options.items() if values}
    calls = [base]
    for name, values in options.items():
        for value in values[1:]:
            if len(calls) >= MAX_CALLS:
                return calls
            calls.append({**base, name: value})
    return calls


def document(operation: str, name: str, field: GraphQLField) -> str:
    """A document calling ``field`` of ``operation`` with every argument as a variable."""
    args: dict[str, GraphQLArgument] = field.args
    variables = ", ".join(f"${arg}: {spec.type}" for arg, spec in args.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in args)
    head = f"{operation} Review({variables})" if variables else operation
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call}{selection(field.type)} }}"


def selection(kind: GraphQLOutputType, depth: int = 0) -> str:
    """``" { ... }"`` for an object, interface or union result; empty for a scalar or an enum."""
    named = get_named_type(kind)
    if isinstance(named, GraphQLUnionType):
        return " { __typename }"
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return ""
    parts = ["__typename"]
    if depth < _MAX_DEPTH:
        parts += [f"{name}{sub}" for name, sub in _subfields(named, depth)]
    return " { " + " ".join(parts) + " }"


def _subfields(kind: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> Iterator[tuple[str, str]]:
    for name, field in kind.fields.items():
        if any(isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined for arg in field.args.values()):
            continue  # a nested field that needs arguments (a page of its own): left out
        yield name, selection(field.type, depth + 1)
