"""What a plugin's resolver finds as ``info.context``: the provider of ``graphql_request``, nothing else.

Kernel resolvers receive the request's :class:`~nentang.kernel.graphql.context.GraphQLContext`,
which holds the kernel (``info.context.kernel``: every service, every tenant's data). A plugin's
resolver must not: each resolver of a plugin's field (a root field it contributes, or a field with
a resolver on one of its types) is wrapped, when its schema is served, so that the ``info`` it
receives carries a :class:`PluginInfoContext` instead. The view offers only ``plugin_request``
(what :func:`nentang.sdk.graphql.graphql_request` calls); the context behind it is found in this
module, through a weak reference, never through an attribute of the view.

Fields without a resolver of their own (strawberry's attribute reads) are left alone: they run no
plugin code, and the executor completes them by plan (``completion.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

from graphql import GraphQLObjectType, GraphQLSchema

if TYPE_CHECKING:
    from nentang.kernel.graphql.context import GraphQLContext, PluginRequest

_DEFINITION: Final = "strawberry-definition"


@final
class PluginInfoContext:
    """``info.context`` for a plugin's resolver."""

    __slots__ = ("__weakref__",)

    def plugin_request(self, info: Any) -> PluginRequest:
        """The provider behind :func:`nentang.sdk.graphql.graphql_request`."""
        context = _CONTEXTS[self]()
        if context is None:
            raise RuntimeError("this request has ended")
        return context.plugin_request(info)


#: View -> the request context behind it (weak: the context holds its view, not the other way).
_CONTEXTS: Final[weakref.WeakKeyDictionary[PluginInfoContext, weakref.ref[GraphQLContext]]] = (
    weakref.WeakKeyDictionary()
)


def new_view(context: GraphQLContext) -> PluginInfoContext:
    view = PluginInfoContext()
    _CONTEXTS[view] = weakref.ref(context)
    return view


def hide_context_from_plugins(schema: GraphQLSchema, owner: Callable[[str, str], str | None]) -> None:
    """Wrap the resolver of every field ``owner`` says is a plugin's (see the module docstring)."""
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for name, field in graphql_type.fields.items():
            definition = (field.extensions or {}).get(_DEFINITION)
            if field.resolve is None or getattr(definition, "base_resolver", None) is None:
                continue
            if owner(graphql_type.name, name) is not None:
                field.resolve = _with_plugin_view(field.resolve)


def _with_plugin_view(resolve: Callable[..., Any]) -> Callable[..., Any]:
    def resolve_as_plugin(source: Any, info: Any, /, **kwargs: Any) -> Any:  # an argument may be called "source"
        context = info.context
        view = context.plugin_view() if hasattr(context, "plugin_view") else context
        return resolve(source, info._replace(context=view), **kwargs)

    return resolve_as_plugin
