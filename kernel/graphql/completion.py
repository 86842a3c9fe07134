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

A *batch field* (``batching.py``: a resolver answering for every item of a page at once, like
``Tenant.parent`` or a plugin's ``batch_resolver``) is planned too. The plan's walk leaves its
place empty and notes the item; when the walk is done, each batch field gets the items noted for
it in one call of its request loader — one call per field per page, not per item — and each
answer is completed by the field's own plan, which may note more batch fields, one level down,
until none is left. The result is then awaited by graphql-core like any resolver's.

Whatever the plan does not expect (a ``None`` where the type says non-null, a value a scalar
refuses, something that is not a list where a list is due, an awaitable, any exception) makes
it give up on that object and hand it to graphql-core, which completes it again from the start
with the specification's exact errors, paths and null propagation. Plain fields only read
attributes, so reading them twice changes nothing; a batch field's answers are kept per item by
the request's loader, so graphql-core finds them there instead of calling the batch again (an
item's error included, which it then reports at the item's path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, ClassVar, Final, final

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path, is_iterable

from nentang.kernel.graphql.batching import FIELD, BatchField, Failed, loader_of

#: Completes one value; batch fields met on the way are noted in the :class:`Pending` given.
Complete = Callable[[Any, "Pending"], Any]

#: Plans kept per executor class (one class per served schema); cleared whole when full.
MAX_PLANS: Final = 4096


class Irregular(Exception):
    """The plan met something only graphql-core's full completion may answer for."""


@final
class BatchPlan:
    """A batch field at one place of a document: what the plan needs to ask for it and complete it
    (hashed by identity: a key of :attr:`Pending.waits`)."""

    __slots__ = ("complete", "definition", "field", "key", "node", "parent_type")

    def __init__(
        self,
        key: str,
        field: BatchField,
        definition: GraphQLField,
        node: FieldNode,
        parent_type: GraphQLObjectType,
        complete: Complete,
    ) -> None:
        self.key = key
        self.field = field
        self.definition = definition
        self.node = node
        self.parent_type = parent_type
        self.complete = complete


class Pending:
    """The batch fields a walk met: per field's plan, the (item, result dict) pairs waiting."""

    __slots__ = ("waits",)

    def __init__(self) -> None:
        self.waits: dict[BatchPlan, list[tuple[Any, dict[str, Any]]]] = {}


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
                pending = Pending()
                try:
                    completed = plan(result, pending)
                except Exception:  # Irregular, or anything a field raised: graphql-core decides
                    pass
                else:
                    if not pending.waits:
                        return completed
                    fallback = (return_type, field_details_list, path, result, position_context)
                    return self._batched(completed, pending, path, fallback)
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )

        async def _batched(self, completed: Any, pending: Pending, path: Path, fallback: tuple[Any, ...]) -> Any:
            """Ask each noted batch field for all its items at once, level by level, then complete."""
            try:
                while pending.waits:
                    waits, pending.waits = pending.waits, {}
                    asked = [
                        loader_of(self.context_value, batch.field).load_many(
                            [item for item, _out in waiting], self._batch_info(batch, path)
                        )
                        for batch, waiting in waits.items()
                    ]
                    answers = await asyncio.gather(*asked)
                    for (batch, waiting), outcomes in zip(waits.items(), answers, strict=True):
                        key, complete = batch.key, batch.complete
                        for (_item, out), outcome in zip(waiting, outcomes, strict=True):
                            if isinstance(outcome, Failed):
                                raise Irregular
                            out[key] = complete(outcome, pending)
                return completed
            except Exception:  # an item's error, or anything irregular: graphql-core decides
                pass
            again = super().collect_and_execute_subfields(*fallback)
            return await again if self.is_awaitable(again) else again

        def _batch_info(self, batch: BatchPlan, path: Path) -> Any:
            # The info of the page's first item asking (its path is the list's: the batch is for all)
            return self.build_resolve_info(
                batch.definition, [batch.node], batch.parent_type, path.add_key(batch.key, batch.parent_type.name)
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
    fields: list[tuple[str, Callable[..., Any], Complete, BatchPlan | None]] = []
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
            fields.append((response_key, _typename(object_type.name), _as_is, None))
            continue
        field = object_type.fields.get(name)
        resolve = field.resolve if field is not None else None
        batch = getattr(resolve, FIELD, None)
        if resolve is None or (batch is None and not getattr(resolve, "_is_default", False)):
            return None  # a resolver of its own, or not strawberry's plain attribute read
        complete = _completer(field.type, selection)  # type: ignore[union-attr]
        if complete is None:
            return None
        if batch is not None:
            plan = BatchPlan(response_key, batch, field, selection, object_type, complete)  # type: ignore[arg-type]
            fields.append((response_key, resolve, complete, plan))
        else:
            fields.append((response_key, _reader(field, resolve), complete, None))  # type: ignore[arg-type]
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


def _object_completer(fields: list[tuple[str, Callable[..., Any], Complete, BatchPlan | None]]) -> Complete:
    if not any(batch is not None for *_, batch in fields):

        def complete(source: Any, pending: Pending) -> dict[str, Any]:
            return {key: complete_field(read(source), pending) for key, read, complete_field, _ in fields}

        return complete

    def complete_with_batches(source: Any, pending: Pending) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, read, complete_field, batch in fields:
            if batch is None:
                out[key] = complete_field(read(source), pending)
            else:
                out[key] = None  # keeps the selection's order; filled once the batch has answered
                pending.waits.setdefault(batch, []).append((source, out))
        return out

    return complete_with_batches


def _leaf(leaf_type: GraphQLLeafType) -> Complete:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any, _pending: Pending) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Irregular
        return coerced

    return complete


def _list(item: Complete) -> Complete:
    def complete(value: Any, pending: Pending) -> Any:
        if value is None:
            return None
        if not is_iterable(value):
            raise Irregular
        return [item(v, pending) for v in value]

    return complete


def _nullable(inner: Complete) -> Complete:
    def complete(value: Any, pending: Pending) -> Any:
        if value is None:
            return None
        if hasattr(value, "__await__"):
            raise Irregular
        return inner(value, pending)

    return complete


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any, pending: Pending) -> Any:
        completed = inner(value, pending)  # None for a None value: every inner completer is nullable
        if completed is None:
            raise Irregular
        return completed

    return complete


def _typename(name: str) -> Callable[[Any], str]:
    def read(_source: Any) -> str:
        return name

    return read


def _reader(field: GraphQLField, resolve: Callable[..., Any]) -> Callable[[Any], Any]:
    """Reading a plain field of an item: strawberry's default resolver is ``getattr(item, name)``
    (unless the schema's config names another), so the attribute is read without its two calls."""
    definition = (field.extensions or {}).get("strawberry-definition")
    name = getattr(definition, "python_name", None)
    if isinstance(name, str) and getattr(definition, "default_resolver", None) is getattr:
        return attrgetter(name)
    return lambda source: resolve(source, None)


def _as_is(value: Any, _pending: Pending) -> Any:
    return value
