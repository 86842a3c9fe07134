"""Completing plain sub-selections without graphql-core's per-field machinery.

Once a resolver has returned an object, graphql-core completes every field below it one by one:
it builds a resolve-info, calls the field's resolver through strawberry's wrapper, checks for
awaitables and abort signals, and walks the types again — about as much work per field as a
plugin's whole database read costs per row. Most of what resolvers return is plain data (a page
of items, each with a few attributes), and most selections below a resolver ask for plain fields.

So, for an object whose sub-selection holds only *plain* fields — strawberry fields without a
resolver, arguments, extensions or directives, of leaf, list or object types (objects whose
sub-selections are plain too), no fragments, no aliases used twice — the executor completes it
with a plan built once per (type, document node): read each attribute with the field's own
resolver, coerce each leaf with its type's own ``coerce_output_value``, walk lists and objects.

Whatever the plan does not expect (a ``None`` where the type says non-null, a value a scalar
refuses, something that is not a list where a list is due, an awaitable, any exception) makes
it give up on that object and hand it to graphql-core, which completes it again from the start
with the specification's exact errors, paths and null propagation. Plain fields only read
attributes, so reading them twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

from graphql import (
    FieldNode,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import is_iterable

Complete = Callable[[Any], Any]

#: Plans kept per executor class (one class per served schema); cleared whole when full.
MAX_PLANS: Final = 4096


class Irregular(Exception):
    """The plan met something only graphql-core's full completion may answer for."""


def fast_completion(base: type[Any]) -> type[Any]:
    """A subclass of the execution context ``base`` that completes plain sub-selections by plan.

    Each call makes a new class with its own plan cache: one per served schema, so that plans
    (which hold the schema's types and the documents' nodes) go when the schema goes.
    """

    class FastCompletionContext(base):  # type: ignore[misc,valid-type]
        plans: ClassVar[dict[tuple[str, int], tuple[FieldNode, Complete | None]]] = {}

        def collect_and_execute_subfields(  # graphql-core's hook: complete an object's sub-selection
            self,
            return_type: GraphQLObjectType,
            field_details_list: Sequence[Any],
            path: Any,
            result: Any,
            position_context: Any,
        ) -> Any:
            plan = _plan_for(self.plans, return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result)
                except Exception:  # Irregular, or anything a field raised: graphql-core decides
                    pass
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )

    return FastCompletionContext


def _plan_for(
    plans: dict[tuple[str, int], tuple[FieldNode, Complete | None]],
    return_type: GraphQLObjectType,
    field_details_list: Sequence[Any],
) -> Complete | None:
    if len(field_details_list) != 1:
        return None  # the same response key selected in several places: graphql-core merges them
    details = field_details_list[0]
    if details.defer_usage is not None or details.fragment_variable_values is not None:
        return None
    node: FieldNode = details.node
    key = (return_type.name, id(node))
    cached = plans.get(key)
    if cached is not None and cached[0] is node:
        return cached[1]
    plan = _object_fields(return_type, node)
    if len(plans) >= MAX_PLANS:
        plans.clear()
    plans[key] = (node, plan)  # the node is kept with its plan: its id cannot be reused meanwhile
    return plan


def _object_fields(object_type: GraphQLObjectType, parent: FieldNode) -> Complete | None:
    """The plan completing ``parent``'s sub-selection on ``object_type``, or ``None`` if any of it
    is not plain."""
    if parent.selection_set is None:
        return None
    fields: list[tuple[str, Callable[..., Any], Complete]] = []
    seen: set[str] = set()
    for selection in parent.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        name = selection.name.value
        response_key = selection.alias.value if selection.alias else name
        if response_key in seen:
            return None
        seen.add(response_key)
        if name == "__typename":
            fields.append((response_key, _typename(object_type.name), _as_is))
            continue
        field = object_type.fields.get(name)
        resolve = field.resolve if field is not None else None
        if resolve is None or not getattr(resolve, "_is_default", False):
            return None  # a resolver of its own, or not strawberry's plain attribute read
        complete = _completer(field.type, selection)  # type: ignore[union-attr]
        if complete is None:
            return None
        fields.append((response_key, resolve, complete))
    return _object_completer(fields)


def _completer(output_type: GraphQLOutputType, node: FieldNode) -> Complete | None:
    if isinstance(output_type, GraphQLNonNull):
        inner = _completer(output_type.of_type, node)
        return None if inner is None else _non_null(inner)
    if isinstance(output_type, GraphQLList):
        item = _completer(output_type.of_type, node)
        return None if item is None else _list(item)
    if is_leaf_type(output_type):
        return _nullable(_leaf(output_type))  # type: ignore[arg-type]
    if isinstance(output_type, GraphQLObjectType) and output_type.is_type_of is None:
        fields = _object_fields(output_type, node)
        return None if fields is None else _nullable(fields)
    return None  # interfaces and unions, or a type that checks what it is given


def _object_completer(fields: list[tuple[str, Callable[..., Any], Complete]]) -> Complete:
    def complete(source: Any) -> dict[str, Any]:
        return {key: complete_field(resolve(source, None)) for key, resolve, complete_field in fields}

    return complete


def _leaf(leaf_type: GraphQLLeafType) -> Complete:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Irregular
        return coerced

    return complete


def _list(item: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not is_iterable(value):
            raise Irregular
        return [item(v) for v in value]

    return complete


def _nullable(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if hasattr(value, "__await__"):
            raise Irregular
        return inner(value)

    return complete


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)  # None for a None value: every inner completer is nullable
        if completed is None:
            raise Irregular
        return completed

    return complete


def _typename(name: str) -> Callable[..., str]:
    def resolve(_source: Any, _info: Any) -> str:
        return name

    return resolve


def _as_is(value: Any) -> Any:
    return value
