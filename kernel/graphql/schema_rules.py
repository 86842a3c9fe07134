"""Rules every schema part obeys, checked on the built GraphQL schema: namespaced plugin names and
bounded lists (pagination arguments mandatory). Each check collects every problem it finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    introspection_types,
    specified_scalar_types,
)
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from nentang.sdk.graphql import MAX_ITEMS, PAGE_ITEMS, PUBLIC

#: Types every schema may hold without owning them: GraphQL's and strawberry's scalars, introspection.
SHARED_TYPE_NAMES: Final = frozenset(
    {*specified_scalar_types, *introspection_types, *(d.name for d in DEFAULT_SCALAR_REGISTRY.values())}
)
ROOT_TYPE_NAMES: Final = frozenset({"Query", "Mutation", "Subscription"})
#: The one field of the stand-in ``Query`` of a plugin that contributes mutations only.
PLACEHOLDER_FIELD: Final = "_placeholder"


def type_prefix(plugin: str) -> str:
    """``civil_service`` → ``CivilService``: what the plugin's type names start with."""
    return "".join(part[:1].upper() + part[1:] for part in plugin.split("_"))


def field_prefix(plugin: str) -> str:
    """``civil_service`` → ``civil_service_``: what the plugin's top-level field names start with."""
    return f"{plugin}_"


class PluginFieldNames(NameConverter):
    """Top-level fields of a plugin keep their prefix: ``forms_recent_items`` → ``forms_recentItems``.

    Everything else is named as strawberry names it (camelCase fields, class names for types).
    """

    def __init__(self, owners: dict[type, str]) -> None:
        super().__init__(auto_camel_case=True)
        #: Root class → the plugin that contributed it.
        self._owners = owners

    def from_field(self, field: StrawberryField) -> str:
        if field.graphql_name is None:
            plugin = self._owners.get(field.origin) if isinstance(field.origin, type) else None
            if plugin is not None and field.python_name.startswith(field_prefix(plugin)):
                rest = field.python_name[len(field_prefix(plugin)) :]
                return field_prefix(plugin) + to_camel_case(rest)
        return super().from_field(field)


def metadata(field: GraphQLField) -> dict[str, Any]:
    definition = (field.extensions or {}).get("strawberry-definition")
    return dict(getattr(definition, "metadata", None) or {})


def is_public(field: GraphQLField) -> bool:
    return bool(metadata(field).get(PUBLIC))


def is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            return True
        type_ = type_.of_type
    return False


def takes_first(field: GraphQLField) -> bool:
    """The field has the mandatory page-size argument ``first: Int!``."""
    argument = field.args.get("first")
    return argument is not None and str(argument.type) == "Int!"


def composite_types(schema: GraphQLSchema, names: Iterable[str] | None = None) -> Iterator[GraphQLNamedType]:
    wanted = set(schema.type_map) if names is None else set(names)
    for name in sorted(wanted):
        type_ = schema.type_map.get(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) and not name.startswith("__"):
            yield type_


def pagination_problems(schema: GraphQLSchema, names: Iterable[str] | None = None) -> list[str]:
    """Lists without ``first: Int!`` or a declared bound; connections reached without ``first``."""
    problems: list[str] = []
    connections: set[str] = set()
    types = list(composite_types(schema, names))
    for type_ in types:
        for field_name, field in type_.fields.items():
            if field_name == PLACEHOLDER_FIELD:
                continue
            meta = metadata(field)
            if meta.get(PAGE_ITEMS):
                connections.add(type_.name)
            if "first" in field.args and not takes_first(field):
                problems.append(f"{type_.name}.{field_name}: the page size 'first' must be mandatory (Int!)")
            if is_list(field.type) and not (takes_first(field) or meta.get(MAX_ITEMS) or meta.get(PAGE_ITEMS)):
                problems.append(
                    f"{type_.name}.{field_name} returns a list: take 'first: Int!' and 'after: String' (a connection), "
                    "or declare its bound with graphql_metadata(max_items=N)"
                )
    for type_ in composite_types(schema):
        for field_name, field in type_.fields.items():
            named = get_named_type(field.type)
            if named.name in connections and not takes_first(field):
                problems.append(f"{type_.name}.{field_name} returns the page type {named.name}: take 'first: Int!'")
    return problems


def namespace_problems(plugin: str, schema: GraphQLSchema) -> list[str]:
    """Names of a plugin's own schema (built from its contribution alone) outside its namespace."""
    problems: list[str] = []
    prefix = field_prefix(plugin)
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for name in root.fields:
            if name != PLACEHOLDER_FIELD and (not name.startswith(prefix) or name == prefix):
                problems.append(f"top-level field {root.name}.{name} must be named {prefix}<something>")
    for name in plugin_type_names(schema):
        if not name.startswith(type_prefix(plugin)):
            problems.append(
                f"type {name} must start with {type_prefix(plugin)} (a plugin refers to its own types only; "
                "kernel and other plugins' types are not part of the SDK)"
            )
    return problems


def plugin_type_names(schema: GraphQLSchema) -> list[str]:
    """The named types of a schema that are neither shared nor root types."""
    return sorted(n for n in schema.type_map if n not in SHARED_TYPE_NAMES and n not in ROOT_TYPE_NAMES)
