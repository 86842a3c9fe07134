"""Parsed and validated documents, cached per schema: validation is most of a small query's cost.

Each cached schema owns one :class:`DocumentCache`, a bounded LRU from the query text to a
:class:`Prepared` document — parsed within the token limit, validated by the specification's rules
plus the depth and alias limits, with its operations indexed. What depends on the caller (the
anonymous check) or the variables (the cost) is worked out on first use and kept on the entry.
Only valid documents are kept, so garbage cannot push useful entries out.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, final

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from nentang.kernel.graphql import cost
from nentang.kernel.graphql.errors import (
    OPERATION_NOT_FOUND,
    SYNTAX_ERROR,
    TOKEN_LIMIT,
    VALIDATION_FAILED,
    RequestError,
    coded,
    format_errors,
)
from nentang.kernel.graphql.limits import alias_rule, anonymous_errors, depth_rule, text_rule

if TYPE_CHECKING:
    from nentang.kernel.graphql.config import GraphQLSettings

_LIMIT_MESSAGES = ("Document contains more than", "Source contains more than")


@final
class Prepared:
    """A valid document of one schema, with what was worked out about it so far."""

    __slots__ = ("_anonymous", "_plans", "document", "operations", "schema")

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.document = document
        #: Operations by name; a lone anonymous operation is also under ``None``.
        self.operations: dict[str | None, OperationDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                self.operations[definition.name.value if definition.name else None] = definition
        if len(self.operations) == 1:
            self.operations[None] = next(iter(self.operations.values()))
        self._anonymous: list[dict[str, Any]] | None = None
        self._plans: dict[str | None, cost.CostPlan] = {}

    def operation(self, name: str | None) -> OperationDefinitionNode:
        found = self.operations.get(name)
        if found is None:
            if name is None:
                message = "the document holds several operations; say which one to run with operationName"
            else:
                message = f"the document has no operation named {name!r}"
            raise RequestError(OPERATION_NOT_FOUND, message)
        return found

    def anonymous_problems(self) -> list[dict[str, Any]]:
        """Errors for an anonymous caller (empty: the document asks only for public fields)."""
        if self._anonymous is None:
            self._anonymous = format_errors(anonymous_errors(self.schema, self.document), VALIDATION_FAILED)
        return self._anonymous

    def cost_plan(self, name: str | None, operation: OperationDefinitionNode, max_page_size: int) -> cost.CostPlan:
        found = self._plans.get(name)
        if found is None:
            found = self._plans[name] = cost.plan(self.schema, self.document, operation, max_page_size)
        return found


@final
class DocumentCache:
    def __init__(self, schema: GraphQLSchema, settings: GraphQLSettings, *, hide_suggestions: bool) -> None:
        self._schema = schema
        self._max = settings.documents_per_schema
        self._max_tokens = settings.max_tokens
        self._max_source = settings.max_body_bytes
        self._hide_suggestions = hide_suggestions
        self._rules = (
            *specified_rules,
            depth_rule(settings.max_depth),
            alias_rule(settings.max_aliases),
            text_rule(),
        )
        self._entries: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str) -> Prepared | None:
        """The cached document for ``query`` (the hot path: one dictionary read)."""
        entry = self._entries.get(query)
        if entry is not None:
            with contextlib.suppress(KeyError):  # evicted by another thread meanwhile; still valid
                self._entries.move_to_end(query)
        return entry

    def prepare(self, query: str) -> Prepared:
        """Parse and validate ``query`` (cached), or raise a ``RequestError`` with every problem."""
        entry = self.get(query)
        if entry is not None:
            return entry
        try:
            document = parse(
                query,
                max_lexical_tokens=self._max_tokens,
                max_comments=self._max_tokens,
                max_source_length=self._max_source,
            )
        except GraphQLSyntaxError as exc:
            code = TOKEN_LIMIT if any(m in exc.message for m in _LIMIT_MESSAGES) else SYNTAX_ERROR
            raise RequestError.of(format_errors([coded(exc, code)], code)) from None
        errors: list[GraphQLError] = validate(
            self._schema, document, self._rules, max_errors=20, hide_suggestions=self._hide_suggestions
        )
        if errors:
            refused = RequestError.of(format_errors(errors, VALIDATION_FAILED))
            refused.document = document
            raise refused
        entry = Prepared(self._schema, document)
        with self._lock:
            self._entries[query] = entry
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return entry

    def __len__(self) -> int:
        return len(self._entries)
