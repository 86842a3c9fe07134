"""Plugins' parts of the schema: asked for once per plugin version, checked on their own.

A plugin's contribution is built into a schema of its own (its fields and types alone) and checked
there: every name in its namespace, every list bounded. What passes is a :class:`PluginPart` —
its root classes and the names it claims — which the builder can combine with the kernel and the
other plugins of a set; what fails is a part with ``problems``, left out of every schema, with the
reason kept for operators (``nentang graphql schema --plugins <name>``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import final

import strawberry
import structlog
from strawberry.schema.config import StrawberryConfig

from nentang.kernel.graphql.module import RootPart, merge_root
from nentang.kernel.graphql.schema_rules import (
    PLACEHOLDER_FIELD,
    PluginFieldNames,
    namespace_problems,
    pagination_problems,
    plugin_type_names,
)
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.running import PluginCall
from nentang.kernel.plugins.watchdog import Watchdog
from nentang.sdk.graphql import GraphQLContribution

HOOK = "nentang_graphql_contribute"


@final
@dataclass(frozen=True, slots=True)
class PluginPart:
    plugin: str
    version: str
    contribution: GraphQLContribution
    query_fields: frozenset[str] = frozenset()
    mutation_fields: frozenset[str] = frozenset()
    #: GraphQL type name → the class (or definition) behind it, for messages.
    types: dict[str, str] = field(default_factory=dict)
    #: Why the part cannot be used; empty when it can.
    problems: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return not self.problems

    @property
    def owner(self) -> str:
        return f"plugin {self.plugin!r}"

    @property
    def empty(self) -> bool:
        c = self.contribution
        return not (c.queries or c.mutations or c.types)


@strawberry.type(name="Query")
class _PlaceholderQuery:
    """Stands in for ``Query`` when a plugin contributes mutations only (GraphQL needs a Query)."""

    @strawberry.field(name=PLACEHOLDER_FIELD)
    def placeholder(self) -> bool:
        return True


@final
class Contributions:
    """Each registered plugin's part, asked for once per (plugin, version) and kept."""

    def __init__(self, host: PluginHost, watchdog: Watchdog | None = None) -> None:
        self._host = host
        self._watchdog = watchdog
        self._parts: dict[tuple[str, str], PluginPart] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger("nentang.graphql")

    def part(self, plugin: str, version: str) -> PluginPart:
        key = (plugin, version)
        part = self._parts.get(key)
        if part is None:
            with self._lock:
                part = self._parts.get(key)
                if part is None:
                    part = self._parts[key] = self._make(plugin, version)
                    if part.problems:
                        self._log.error(
                            "graphql.plugin_left_out", plugin=plugin, version=version, problems=list(part.problems)
                        )
        return part

    def forget_failures(self) -> None:
        """Ask failed plugins again at the next build (a transient failure may have passed)."""
        with self._lock:
            for key in [k for k, part in self._parts.items() if part.problems]:
                del self._parts[key]

    def _make(self, plugin: str, version: str) -> PluginPart:
        empty = GraphQLContribution()
        try:
            contribution = self._ask(plugin)
        except Exception as exc:
            problem = f"{HOOK} raised {type(exc).__name__}: {exc}"
            return PluginPart(plugin, version, empty, problems=(problem,))
        if contribution is None:
            return PluginPart(plugin, version, empty)
        if not isinstance(contribution, GraphQLContribution):
            problem = f"{HOOK} returned {type(contribution).__name__}, not nentang.sdk.GraphQLContribution or None"
            return PluginPart(plugin, version, empty, problems=(problem,))
        return check_part(plugin, version, contribution)

    def _ask(self, plugin: str) -> object:
        caller = getattr(self._host.pm.hook, HOOK)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == plugin:
                if self._watchdog is None:
                    return impl.function()
                # with a deadline: a hook that hangs is left out like one that raised (and asked again
                # later); tenant 0: a schema serves a set of plugins, not one tenant
                return self._watchdog.call(PluginCall(plugin, 0, HOOK), impl.function)
        return None


def check_part(plugin: str, version: str, contribution: GraphQLContribution) -> PluginPart:
    """Build the contribution alone and check its names and lists; collect every problem."""
    owners = {cls: plugin for cls in (*contribution.queries, *contribution.mutations)}
    names = PluginFieldNames(owners)
    owner = f"plugin {plugin!r}"
    try:
        query = merge_root("Query", [RootPart(owner, contribution.queries)], names) or _PlaceholderQuery
        mutation = merge_root("Mutation", [RootPart(owner, contribution.mutations)], names)
        schema = strawberry.Schema(
            query=query, mutation=mutation, types=contribution.types, config=StrawberryConfig(name_converter=names)
        )
    except Exception as exc:
        problem = f"its GraphQL types do not build: {type(exc).__name__}: {exc}"
        return PluginPart(plugin, version, contribution, problems=(problem,))
    graphql_schema = schema._schema
    problems = [*namespace_problems(plugin, graphql_schema), *pagination_problems(graphql_schema)]
    query_fields = frozenset(graphql_schema.query_type.fields) - {PLACEHOLDER_FIELD}
    mutation_type = graphql_schema.mutation_type
    mutation_fields = frozenset(mutation_type.fields) if mutation_type else frozenset()
    types = {name: _origin(graphql_schema, name) for name in plugin_type_names(graphql_schema)}
    return PluginPart(plugin, version, contribution, query_fields, mutation_fields, types, tuple(problems))


def _origin(schema: object, name: str) -> str:
    type_ = schema.type_map[name]  # type: ignore[attr-defined]
    definition = (type_.extensions or {}).get("strawberry-definition")
    origin = getattr(definition, "origin", None)
    return f"{origin.__module__}.{origin.__qualname__}" if isinstance(origin, type) else name
