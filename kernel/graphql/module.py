"""Kernel modules of the schema, and merging many classes of root fields into one root type.

The kernel's schema is the sum of its modules (``kernel/graphql/modules/``): each is a
:class:`KernelModule` naming strawberry classes whose fields become top-level ``Query`` and
``Mutation`` fields. Adding one is a one-line change to ``modules/__init__.py``. Plugins add their
root classes the same way, through their contribution; :func:`merge_root` refuses a field name
given twice and names both owners.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField

from nentang.sdk.errors import ValidationFailed


@final
@dataclass(frozen=True, slots=True)
class KernelModule:
    """One area of the kernel schema (tenants, users, roles...).

    :param name: shown in collision errors ("kernel module 'tenants'").
    :param queries: strawberry classes whose fields become top-level ``Query`` fields.
    :param mutations: strawberry classes whose fields become top-level ``Mutation`` fields.
    :param types: types the schema must hold although no field returns them.
    """

    name: str
    queries: tuple[type, ...] = ()
    mutations: tuple[type, ...] = ()
    types: tuple[type, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class RootPart:
    """Root classes of one owner ("kernel module 'tenants'", "plugin 'forms'")."""

    owner: str
    classes: tuple[type, ...]


class SchemaConflict(ValidationFailed):
    """Two owners claim the same name."""

    code = "graphql.schema_conflict"


def root_fields(cls: type) -> list[StrawberryField]:
    if not has_object_definition(cls):
        raise ValidationFailed(f"{cls.__module__}.{cls.__qualname__} is not a strawberry type (@strawberry.type)")
    return list(cls.__strawberry_definition__.fields)


def merge_root(name: str, parts: Iterable[RootPart], names: NameConverter) -> type | None:
    """One strawberry type named ``name`` holding the fields of every part (``None`` if none)."""
    seen: dict[str, str] = {}
    classes: list[type] = []
    for part in parts:
        for cls in part.classes:
            for field in root_fields(cls):
                graphql_name = names.from_field(field)
                if graphql_name in seen:
                    raise SchemaConflict(
                        f"{name}.{graphql_name} is defined twice: by {seen[graphql_name]} and by {part.owner}; "
                        "rename one of them"
                    )
                seen[graphql_name] = part.owner
            classes.append(cls)
    if not classes:
        return None
    # Later bases must not shadow earlier ones; the check above makes the order irrelevant.
    return strawberry.type(type(name, tuple(classes), {}))
