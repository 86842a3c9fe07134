"""The cost of an operation: how many field values it may resolve, counted before it runs.

Every field costs 1; the fields below a list count once per item it may hold: its page size
(``first``, which every paginated field requires) or its declared bound (``max_items``). The items
of a page (``edges``) count once, because the paginated field above them already multiplied. So
``tenants(first: 50) { edges { node { code children(first: 10) { edges { node { code } } } } } }``
costs ``1 + 50 × (1 + 1 × (1 + 1 + 1 + 10 × (1 + 1 × (1 + 1))))``.

The shape of the count (a :class:`CostPlan`) depends only on the document and is cached with it;
the page sizes may be variables, so the number is worked out per request — a few additions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from nentang.kernel.graphql.errors import COST_LIMIT, PAGE_SIZE, RequestError
from nentang.kernel.graphql.schema_rules import metadata, takes_first
from nentang.sdk.graphql import MAX_ITEMS

_META_FIELDS: Final = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
#: A term: (its own cost: 1 for a field, 0 for a fragment spread; is a page size; the multiplier:
#: a number or a variable name; the fields below or None).
Term = tuple[int, bool, "int | str", "CostNode | None"]


@final
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CostNode:
    """The fields of one selection. Fragments' nodes are shared, so a plan is a graph: a printed
    tree would be as large as the operation it denotes (hence no generated ``repr``)."""

    terms: tuple[Term, ...]

    def __repr__(self) -> str:
        return f"CostNode({len(self.terms)} terms)"


_EMPTY: Final = CostNode(())


@final
@dataclass(frozen=True, slots=True)
class CostPlan:
    root: CostNode
    #: Default values of the operation's variables that are integers.
    defaults: Mapping[str, int]
    #: The cost when it does not depend on variables (worked out once), else ``None``.
    fixed: int | None

    def cost(self, variables: Mapping[str, Any] | None, max_page_size: int) -> int:
        if self.fixed is not None:
            return self.fixed
        return _evaluate(self.root, {**self.defaults, **(variables or {})}, max_page_size, {})

    def check(self, variables: Mapping[str, Any] | None, max_page_size: int, max_cost: int) -> int:
        """The cost, or a ``RequestError`` (page size over the maximum, cost over the limit)."""
        cost = self.cost(variables, max_page_size)
        if cost > max_cost:
            raise RequestError(
                COST_LIMIT,
                f"the operation may resolve about {cost} fields; at most {max_cost} are allowed — "
                "ask for smaller pages (first) or fewer nested lists",
                cost=cost,
                maxCost=max_cost,
            )
        return cost


def plan(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, max_page_size: int
) -> CostPlan:
    """The cost plan of ``operation`` (``document`` must have passed validation). A page size
    written in the document above ``max_page_size`` is refused here (``RequestError``)."""
    builder = _Builder(schema, {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)})
    root_type = schema.get_root_type(operation.operation)
    if root_type is None:
        raise ValueError(f"the schema has no {operation.operation.value} type")
    root = CostNode(tuple(builder.terms(root_type, operation.selection_set)))
    defaults = {
        v.variable.name.value: int(v.default_value.value)
        for v in operation.variable_definitions or ()
        if isinstance(v.default_value, IntValueNode)
    }
    fixed = None if builder.uses_variables else _evaluate(root, defaults, max_page_size, {})
    return CostPlan(root=root, defaults=defaults, fixed=fixed)


@final
class _Builder:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.fragment_nodes: dict[str, CostNode] = {}
        self.uses_variables = False

    def terms(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None) -> list[Term]:
        found: list[Term] = []
        if selection_set is None:
            return found
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                term = self.field_term(parent, selection)
                if term is not None:
                    found.append(term)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                found.extend(self.terms(target or parent, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                found.extend(self.spread(selection.name.value))
        return found

    def spread(self, name: str) -> list[Term]:
        # A spread is one term pointing at the fragment's node, built once and shared: copying the
        # fragment's terms into every place it is spread would double the plan with each level of
        # a fragment spread twice (a 1 KB document planned as millions of terms).
        node = self.fragment_nodes.get(name)
        if node is None:
            fragment = self.fragments.get(name)
            if fragment is None:
                return []
            self.fragment_nodes[name] = _EMPTY  # a cycle would read this (validation refuses cycles anyway)
            target = self.schema.get_type(fragment.type_condition.name.value)
            node = self.fragment_nodes[name] = CostNode(
                tuple(self.terms(target, fragment.selection_set)) if target else ()
            )
        return [(0, False, 1, node)]

    def field_term(self, parent: GraphQLNamedType, node: FieldNode) -> Term | None:
        name = node.name.value
        if name == "__typename":
            return None
        field: GraphQLField | None = _META_FIELDS.get(name) or getattr(parent, "fields", {}).get(name)
        if field is None:
            return None
        child_type = get_named_type(field.type)
        child = CostNode(tuple(self.terms(child_type, node.selection_set))) if node.selection_set else None
        if parent.name.startswith("__") or name.startswith("__"):
            return (1, False, 1, child)  # introspection: bounded by the schema, limited in depth
        if takes_first(field):
            return (1, True, self.first_argument(node), child)
        return (1, False, int(metadata(field).get(MAX_ITEMS) or 1), child)

    def first_argument(self, node: FieldNode) -> int | str:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode):
                self.uses_variables = True
                return argument.value.name.value
        return 0  # validation requires it; a null literal is refused when it runs


def _evaluate(node: CostNode, variables: Mapping[str, Any], max_page_size: int, memo: dict[int, int]) -> int:
    known = memo.get(id(node))
    if known is not None:
        return known
    total = 0
    for own, is_page, multiplier, child in node.terms:
        count = multiplier if isinstance(multiplier, int) else variables.get(multiplier)
        if not isinstance(count, int) or isinstance(count, bool):
            count = 0  # not a number: coercing the variable fails when the operation runs
        if is_page and not 0 <= count <= max_page_size:
            raise RequestError(
                PAGE_SIZE,
                f"first must be between 0 and {max_page_size} (the maximum page size), not {count}",
                first=count,
                maxPageSize=max_page_size,
            )
        total += own + count * (_evaluate(child, variables, max_page_size, memo) if child is not None else 0)
    memo[id(node)] = total
    return total
