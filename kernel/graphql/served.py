"""One built schema, as requests use it: the GraphQL schema, its document cache, and who owns what.

A :class:`ServedSchema` belongs to an enabled-plugin *set* (plugin names with versions) and is
shared by every tenant with that set; it never changes once built. A request takes the one its
tenant's set maps to when it starts and keeps it to the end, so a swap never disturbs a request
in flight.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, final

import strawberry
from graphql import GraphQLSchema

from nentang.kernel.graphql.completion import fast_completion
from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.graphql.documents import DocumentCache
from nentang.kernel.graphql.plugin_view import hide_context_from_plugins

#: An enabled-plugin set: (plugin, version) pairs.
SetKey = frozenset[tuple[str, str]]


@final
class ServedSchema:
    __slots__ = (
        "_root_owners",
        "_type_owners",
        "built_at",
        "documents",
        "executor_class",
        "key",
        "left_out",
        "plugins",
        "schema",
        "strawberry",
    )

    def __init__(
        self,
        *,
        key: SetKey,
        schema: strawberry.Schema,
        plugins: tuple[str, ...],
        left_out: Mapping[str, tuple[str, ...]],
        root_owners: Mapping[tuple[str, str], str],
        type_owners: Mapping[str, str],
        settings: GraphQLSettings,
        hide_suggestions: bool,
    ) -> None:
        self.key = key
        self.strawberry = schema
        self.schema: GraphQLSchema = schema._schema
        #: Plugins whose fields this schema serves.
        self.plugins = plugins
        #: Plugins of the set left out, with why (their contribution failed or broke a rule).
        self.left_out = dict(left_out)
        self._root_owners = dict(root_owners)
        self._type_owners = dict(type_owners)
        hide_context_from_plugins(self.schema, self.owner)
        self.documents = DocumentCache(self.schema, settings, hide_suggestions=hide_suggestions)
        #: strawberry's execution context, completing plain sub-selections by plan (``completion.py``).
        self.executor_class: Any = fast_completion(schema.execution_context_class)
        self.built_at = time.monotonic()

    @property
    def degraded(self) -> bool:
        """Some plugin of the set is left out (its build is retried later)."""
        return bool(self.left_out)

    def owner(self, type_name: str | None, field_name: str) -> str | None:
        """The plugin owning a field (``None``: the kernel's)."""
        if type_name is None:
            return None
        return self._root_owners.get((type_name, field_name)) or self._type_owners.get(type_name)

    def sdl(self) -> str:
        return str(self.strawberry)
