"""Limits checked on a document before it runs: depth, aliases and unkeepable text (validation rules, cached with
the document), and what an anonymous caller may ask for (public top-level fields only, no
introspection). The token limit is the parser's; the cost limit is in ``cost.py`` (it depends on
the variables)."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
)
from graphql.language import SKIP
from graphql.validation import ASTValidationRule, ValidationContext

from nentang.kernel.graphql.errors import (
    ALIAS_LIMIT,
    AUTH_REQUIRED,
    DEPTH_LIMIT,
    INTROSPECTION_DISABLED,
    INVALID_TEXT,
    rule_error,
)
from nentang.kernel.graphql.schema_rules import is_public
from nentang.kernel.http.request_text import text_problem

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimitRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> Any:
            fragments = {f.name.value: f for f in self.context.document.definitions if _is_fragment(f)}
            depth = _depth(node.selection_set, fragments, {}, set())
            if depth > max_depth:
                name = node.name.value if node.name else "the operation"
                self.report_error(
                    rule_error(
                        f"{name} nests fields {depth} deep; at most {max_depth} is allowed",
                        DEPTH_LIMIT,
                        node,
                        depth=depth,
                        maxDepth=max_depth,
                    )
                )
            return SKIP

    return DepthLimitRule


def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimitRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_args: Any) -> None:
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(
                        rule_error(
                            f"the document uses more than {max_aliases} aliases",
                            ALIAS_LIMIT,
                            node,
                            maxAliases=max_aliases,
                        )
                    )

    return AliasLimitRule


def text_rule() -> type[ASTValidationRule]:
    """Refuse string literals no store could keep (NUL, lone surrogates; see ``http/request_text``):
    a GraphQL escape like ``"\\u0000"`` decodes to one, whatever the request's JSON held."""

    class TextRule(ASTValidationRule):
        def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
            problem = text_problem(node.value)
            if problem is not None:
                self.report_error(rule_error(f"a string in the document {problem}", INVALID_TEXT, node))

    return TextRule


def _is_fragment(definition: Any) -> bool:
    return isinstance(definition, FragmentDefinitionNode)


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    memo: dict[str, int],
    active: set[str],
) -> int:
    """Deepest nesting below ``selection_set``; each fragment is measured once (``memo``), so a
    document that spreads fragments into each other many times costs no more than its size."""
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__") and selection.name.value != "__typename":
                depth = 1  # introspection has its own limit (graphql-core's MaxIntrospectionDepthRule)
            else:
                depth = 1 + _depth(selection.selection_set, fragments, memo, active)
        elif isinstance(selection, InlineFragmentNode):
            depth = _depth(selection.selection_set, fragments, memo, active)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in active:  # unknown or cyclic: other rules report it
                continue
            if name not in memo:
                memo[name] = _depth(fragment.selection_set, fragments, memo, active | {name})
            depth = memo[name]
        else:
            continue
        deepest = max(deepest, depth)
    return deepest


def anonymous_errors(schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
    """What an anonymous caller may not ask: any top-level field not marked public, introspection.

    A top-level field the schema does not have counts as not public: an anonymous caller gets
    ``auth.required`` for a plugin's field whether or not the plugin is enabled at the tenant, so
    the answer does not tell which plugins a tenant runs (the endpoint checks this before it
    reports the document's validation errors)."""
    fragments = {f.name.value: f for f in document.definitions if isinstance(f, FragmentDefinitionNode)}
    errors: list[GraphQLError] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        root = schema.mutation_type if definition.operation == OperationType.MUTATION else schema.query_type
        if root is None:
            continue
        for field in _root_fields(definition.selection_set, fragments, set()):
            name = field.name.value
            if name == "__typename":
                continue
            if name in INTROSPECTION_FIELDS:
                errors.append(
                    rule_error("introspection needs a signed-in caller or an API token", INTROSPECTION_DISABLED, field)
                )
            elif name not in root.fields or not is_public(root.fields[name]):
                errors.append(
                    rule_error(f"sign in, or send an API token, to query {root.name}.{name}", AUTH_REQUIRED, field)
                )
    return errors


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> list[FieldNode]:
    found: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_root_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)  # each fragment once: its fields are already listed
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                found.extend(_root_fields(fragment.selection_set, fragments, seen))
    return found
