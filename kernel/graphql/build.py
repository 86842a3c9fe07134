"""Building the schema of an enabled-plugin set: the kernel's modules plus each plugin's part.

Decisions (see ``docs/graphql.md``):

- A plugin whose part cannot be used — its hook raised, a name outside its namespace, an unbounded
  list, a name another plugin or the kernel already holds — is *left out* of the schema of that
  set, which serves the kernel and the other plugins. Its fields then do not exist there, exactly
  like the fields of a plugin that is not enabled. The error names the plugin (and, for a
  collision, both sides) and is logged; the set's schema is built again later to retry.
- On a collision the kernel always keeps its name; between plugins the one first by name keeps it.
- If the combined build still fails (a strawberry error no check foresaw), plugins are added one at
  a time and each one that breaks the build is left out; the kernel alone always builds (its
  schema is checked by the test suite and the committed SDL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import strawberry
import structlog
from strawberry.schema.config import StrawberryConfig

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.graphql.contributions import Contributions, PluginPart
from nentang.kernel.graphql.module import KernelModule, RootPart, merge_root
from nentang.kernel.graphql.modules import KERNEL_MODULES
from nentang.kernel.graphql.schema_rules import SHARED_TYPE_NAMES, PluginFieldNames, pagination_problems
from nentang.kernel.graphql.served import ServedSchema, SetKey
from nentang.sdk.errors import ValidationFailed


@final
class SchemaBuilder:
    def __init__(
        self,
        modules: Sequence[KernelModule],
        contributions: Contributions,
        settings: GraphQLSettings,
        *,
        hide_suggestions: bool,
    ) -> None:
        self._modules = tuple(modules)
        self._contributions = contributions
        self._settings = settings
        self._hide_suggestions = hide_suggestions
        self._log = structlog.get_logger("nentang.graphql")
        kernel = self._kernel = self._strawberry(())
        problems = pagination_problems(kernel._schema)
        if problems:
            raise ValidationFailed("the kernel schema breaks the pagination rule: " + "; ".join(problems))
        schema = kernel._schema
        self._kernel_fields = {
            "Query": frozenset(schema.query_type.fields),
            "Mutation": frozenset(schema.mutation_type.fields if schema.mutation_type else ()),
        }
        self._kernel_types = frozenset(n for n in schema.type_map if n not in SHARED_TYPE_NAMES)

    def build(self, key: SetKey) -> ServedSchema:
        parts = [self._contributions.part(plugin, version) for plugin, version in sorted(key)]
        left_out: dict[str, tuple[str, ...]] = {p.plugin: p.problems for p in parts if not p.usable}
        accepted = self._without_collisions([p for p in parts if p.usable], left_out)
        try:
            schema = self._strawberry(accepted) if accepted else self._kernel
        except Exception as exc:
            self._log.error("graphql.build_failed", plugins=[p.plugin for p in accepted], error=repr(exc))
            schema, accepted = self._one_by_one(accepted, left_out)
        for plugin, problems in left_out.items():
            self._log.error("graphql.plugin_left_out", plugin=plugin, problems=list(problems))
        return ServedSchema(
            key=key,
            schema=schema,
            plugins=tuple(p.plugin for p in accepted),
            left_out=left_out,
            root_owners={
                (root, name): part.plugin
                for part in accepted
                for root, names in (("Query", part.query_fields), ("Mutation", part.mutation_fields))
                for name in names
            },
            type_owners={name: part.plugin for part in accepted for name in part.types},
            settings=self._settings,
            hide_suggestions=self._hide_suggestions,
        )

    def _without_collisions(self, parts: list[PluginPart], left_out: dict[str, tuple[str, ...]]) -> list[PluginPart]:
        """Parts that claim no name already held, in order; the others are left out, naming both sides."""
        held: dict[tuple[str, str], str] = {}
        for root, names in self._kernel_fields.items():
            held.update({(root, name): "the kernel" for name in names})
        held.update({("type", name): "the kernel" for name in self._kernel_types})
        accepted: list[PluginPart] = []
        for part in parts:
            claims = [
                *(("Query", n) for n in part.query_fields),
                *(("Mutation", n) for n in part.mutation_fields),
                *(("type", n) for n in part.types),
            ]
            clashes = [
                f"{_describe(kind, name)} of {part.owner} is already defined by {held[(kind, name)]}; "
                f"{part.owner} must rename it"
                for kind, name in claims
                if (kind, name) in held
            ]
            if clashes:
                left_out[part.plugin] = tuple(clashes)
                continue
            held.update({claim: part.owner for claim in claims})
            accepted.append(part)
        return accepted

    def _one_by_one(
        self, parts: list[PluginPart], left_out: dict[str, tuple[str, ...]]
    ) -> tuple[strawberry.Schema, list[PluginPart]]:
        accepted: list[PluginPart] = []
        schema = self._kernel
        for part in parts:
            try:
                schema = self._strawberry((*accepted, part))
            except Exception as exc:
                left_out[part.plugin] = (f"the schema does not build with it: {type(exc).__name__}: {exc}",)
                continue
            accepted.append(part)
        return schema, accepted

    def _strawberry(self, parts: Sequence[PluginPart]) -> strawberry.Schema:
        return compose(self._modules, parts)


def compose(modules: Sequence[KernelModule], parts: Sequence[PluginPart] = ()) -> strawberry.Schema:
    """The strawberry schema of the kernel's modules and the given plugin parts (no checks)."""
    owners = {cls: p.plugin for p in parts for cls in (*p.contribution.queries, *p.contribution.mutations)}
    names = PluginFieldNames(owners)
    queries = [RootPart(f"kernel module {m.name!r}", m.queries) for m in modules]
    mutations = [RootPart(f"kernel module {m.name!r}", m.mutations) for m in modules]
    queries += [RootPart(p.owner, p.contribution.queries) for p in parts]
    mutations += [RootPart(p.owner, p.contribution.mutations) for p in parts]
    query = merge_root("Query", queries, names)
    if query is None:
        raise ValidationFailed("the kernel schema has no query fields")
    types = [t for m in modules for t in m.types] + [t for p in parts for t in p.contribution.types]
    return strawberry.Schema(
        query=query,
        mutation=merge_root("Mutation", mutations, names),
        types=types,
        config=StrawberryConfig(name_converter=names),
    )


def kernel_sdl(modules: Sequence[KernelModule] = KERNEL_MODULES) -> str:
    """The SDL of the kernel schema alone, as committed in ``docs/graphql/kernel.graphql``."""
    return str(compose(modules)) + "\n"


def _describe(kind: str, name: str) -> str:
    return f"type {name}" if kind == "type" else f"{kind}.{name}"
