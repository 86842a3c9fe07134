"""What a plugin adds to the GraphQL API, and how its resolvers reach their tenant.

A plugin implements :func:`nentang.sdk.hookspecs.nentang_graphql_contribute` and returns a
:class:`GraphQLContribution`: strawberry classes whose fields become top-level ``Query`` and
``Mutation`` fields, plus any extra types. The kernel adds them to the schema of every tenant where
the plugin is enabled — and nowhere else: for other tenants its fields do not exist, in execution
and in introspection.

Rules, checked when a schema is built (a plugin that breaks one is left out of the schema, which
still serves, and the error names the plugin and the fix):

- **Namespaced names.** Every top-level field is named ``<plugin>_<rest>`` (``forms_templates``;
  the rest is camel-cased as usual: ``forms_recent_items`` is served as ``forms_recentItems``) and
  every type, enum, input and scalar the plugin defines starts with the plugin's name in
  PascalCase (``civil_service`` → ``CivilService...``). Names are checked, never rewritten.
- **No collisions.** A name already taken by the kernel or by another plugin is refused; the error
  names both owners.
- **Bounded lists.** A field returning a list takes ``first: Int!`` (and a cursor ``after``), or
  declares a bound with ``graphql_metadata(max_items=N)``; the items of a page
  (``edges``/``nodes`` of a connection) are marked ``graphql_metadata(page_items=True)`` and the
  field returning the connection takes ``first: Int!``. The kernel counts these in each query's
  cost and refuses ``first`` above its maximum page size before any resolver runs.
- **Own types only.** A contribution refers to its own types, strawberry's scalars, and nothing of
  the kernel or of other plugins.
- Mutations stay top-level fields: GraphQL runs only top-level mutation fields one after another.

A resolver reaches its tenant through :func:`graphql_request` — never through ``info.context``,
which is the kernel's and not part of this contract::

    @strawberry.type
    class FormsQuery:
        @strawberry.field
        async def forms_templates(self, info: strawberry.Info, first: int, after: str | None = None) -> ...:
            request = graphql_request(info)
            request.require_permission("forms.read")
            return await request.run(lambda ctx: load_page(ctx.session, first, after))

A field whose value comes from a read per item (a related record, a count, a computed value) is
declared with :func:`batch_resolver`: one call for every item of the page, so a page of 1,000
items costs one plugin call and one query, not 1,000.

This module needs no strawberry at import time; a plugin that contributes GraphQL depends on
``strawberry-graphql`` itself.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar, final, runtime_checkable

from nentang.sdk.context import TenantContext, TenantRef

T = TypeVar("T")
S = TypeVar("S")

#: Attribute of a resolver made by :func:`batch_resolver`: the batch function it answers with.
BATCH: Final = "__nentang_batch__"

#: Metadata key: the field may be queried without signing in (``graphql_metadata(public=True)``).
PUBLIC: Final = "nentang.public"
#: Metadata key: the list returned by the field never holds more than this many items.
MAX_ITEMS: Final = "nentang.max_items"
#: Metadata key: the list holds the items of a page sized by the enclosing field's ``first``.
PAGE_ITEMS: Final = "nentang.page_items"


def graphql_metadata(*, public: bool = False, max_items: int | None = None, page_items: bool = False) -> dict[str, Any]:
    """Metadata for ``strawberry.field(metadata=...)`` that the kernel reads.

    :param public: an anonymous caller may query this top-level field (everything else needs a
        session or an API token). Fields below a public field are reachable through it.
    :param max_items: the field returns a list of at most this many items (counted in the cost).
    :param page_items: the field returns the items of one page (a connection's ``edges``).
    """
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be at least 1, not {max_items}")
    if max_items is not None and page_items:
        raise ValueError("a list is either bounded (max_items) or a page (page_items), not both")
    metadata: dict[str, Any] = {}
    if public:
        metadata[PUBLIC] = True
    if max_items is not None:
        metadata[MAX_ITEMS] = max_items
    if page_items:
        metadata[PAGE_ITEMS] = True
    return metadata


@final
@dataclass(frozen=True, slots=True)
class GraphQLContribution:
    """A plugin's part of the schema (all classes are strawberry types).

    :param queries: classes whose fields become top-level ``Query`` fields.
    :param mutations: classes whose fields become top-level ``Mutation`` fields.
    :param types: types not reachable from those fields that the schema must still hold
        (implementations of an interface the plugin's fields return, for instance).
    """

    queries: tuple[type, ...] = ()
    mutations: tuple[type, ...] = ()
    types: tuple[type, ...] = ()

    def __post_init__(self) -> None:
        for name in ("queries", "mutations", "types"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(item, type) for item in value):
                raise TypeError(f"GraphQLContribution.{name} must be a tuple of classes, not {value!r}")


@runtime_checkable
class GraphQLRequest(Protocol):
    """One GraphQL request as seen by the plugin that owns the field being resolved."""

    @property
    def tenant(self) -> TenantRef:
        """The tenant the request is for (from the API token or the ``X-Tenant`` header)."""

    @property
    def plugin(self) -> str:
        """The plugin that owns the field being resolved."""

    @property
    def actor(self) -> str:
        """Who calls: ``user:12``, ``token:7`` or ``anonymous``."""

    @property
    def authenticated(self) -> bool:
        """Whether the caller signed in or sent an API token (``False`` only on public fields)."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """This plugin's settings for the tenant."""

    def has_permission(self, permission: str) -> bool:
        """Whether the caller holds ``permission`` at the tenant (no database round trip)."""

    def require_permission(self, permission: str) -> None:
        """Raise :class:`~nentang.sdk.errors.PermissionDenied` unless the caller holds it; the
        caller then gets a GraphQL error with code ``permission.denied``."""

    def run(self, work: Callable[[TenantContext], T]) -> Awaitable[T]:
        """Run ``work`` with a :class:`TenantContext` whose ``session`` is bound
        to the tenant, inside a transaction of its own: committed when ``work`` returns, rolled
        back when it raises (the error reaches the caller; nothing it wrote remains). Await it
        from an ``async`` resolver; use one ``run`` per mutation so that it is all-or-nothing.

        ``work`` runs in a worker thread (the plugin's resolver already runs in one, under the
        kernel's deadline); in a query on the embedded SQLite database, if it writes while another
        connection holds the database's write lock, it is rolled back and run once more, from the
        start, as a writer. So keep ``work`` to database work: a slow call to another system inside
        it holds a thread until the deadline, and one with effects outside the database could
        happen twice."""


def graphql_request(info: Any) -> GraphQLRequest:
    """The request behind ``info`` (the ``strawberry.Info`` of a resolver of this plugin)."""
    context = getattr(info, "context", None)
    provider = getattr(context, "plugin_request", None)
    if provider is None:
        raise RuntimeError("graphql_request() needs the info of a resolver run by the NenTang kernel")
    request: GraphQLRequest = provider(info)
    return request


#: What a batch function is given and returns: the items of the page and the field's info, then
#: one value (or an exception) per item, in order; sync or ``async``.
BatchFunction = Callable[[list[S], Any], Sequence[T | Exception] | Awaitable[Sequence[T | Exception]]]

_SEQUENCE = re.compile(r"^\s*(?:list|(?:typing\.|collections\.abc\.)?Sequence)\[(?P<item>.+)\]\s*$")


def batch_resolver(batch: BatchFunction[S, T]) -> Callable[..., Awaitable[T]]:
    """A field's resolver answering for every item of a page in one call.

    ``batch(items, info)`` receives the objects the field is selected on (every item of the page
    the query reached, in one list) and the field's ``strawberry.Info`` (for
    :func:`graphql_request`), and returns the field's value for each item in the same order: a
    list of the same length, typed ``list[X]`` where ``X`` is the field's type. An exception in
    place of a value fails that item's field only (a GraphQL error at its path, the others intact);
    an exception raised fails the field for every item.

    The kernel calls it once per page (and per field), as one plugin call: in a plugin thread,
    under the plugin's deadline and the runtime guard, like any resolver. Its read should be one
    query for all the items (``WHERE key IN (...)``)::

        async def _reply_counts(items: list[FeedbackItem], info: strawberry.Info) -> list[int]:
            request = graphql_request(info)
            numbers = [item.number for item in items]
            counts = await request.run(lambda ctx: count_replies(ctx.session, numbers))  # one SELECT
            return [counts.get(n, 0) for n in numbers]

        @strawberry.type
        class FeedbackItem:
            number: int
            reply_count: int = strawberry.field(resolver=batch_resolver(_reply_counts))

    It also decorates a method-like function in the class body (``@strawberry.field`` above
    ``@batch_resolver``, the first parameter then being the list of items). A batch field takes no
    arguments besides ``info``.
    """
    if not callable(batch):
        raise TypeError(f"batch_resolver() takes a function, not {batch!r}")
    item = _item_annotation(batch)

    async def resolve(root: Any, info: Any) -> Any:  # strawberry's names for the item and the info
        # Outside a kernel that batches (a plain strawberry schema, a unit test): a batch of one.
        values = batch([root], info)
        if inspect.isawaitable(values):
            values = await values
        if len(values) != 1:
            raise ValueError(f"{batch.__qualname__} returned {len(values)} values for 1 item")
        if isinstance(values[0], Exception):
            raise values[0]
        return values[0]

    resolve.__name__ = getattr(batch, "__name__", "resolve")
    resolve.__qualname__ = getattr(batch, "__qualname__", resolve.__name__)
    resolve.__module__ = batch.__module__  # where strawberry resolves the annotation's names
    resolve.__doc__ = batch.__doc__
    resolve.__annotations__ = {"info": _info_annotation(batch), "return": item}
    setattr(resolve, BATCH, batch)
    return resolve


def _info_annotation(batch: Callable[..., Any]) -> Any:
    """The batch function's own annotation of its ``info`` (its second parameter), or strawberry's Info."""
    parameters = list(inspect.signature(batch).parameters.values())
    if len(parameters) != 2:
        raise TypeError(f"{getattr(batch, '__qualname__', batch)!r}: a batch function takes (items, info)")
    found = parameters[1].annotation
    if found is inspect.Parameter.empty:
        import strawberry  # a plugin that contributes GraphQL depends on strawberry itself

        return strawberry.Info
    return found


def _item_annotation(batch: Callable[..., Any]) -> Any:
    """``X`` from the batch function's ``list[X]`` (or ``Sequence[X]``) return annotation."""
    returns = getattr(batch, "__annotations__", {}).get("return")
    if isinstance(returns, str):
        found = _SEQUENCE.match(returns)
        if found:
            return found.group("item")
    elif typing.get_origin(returns) in (list, Sequence):
        return typing.get_args(returns)[0]
    raise TypeError(
        f"{getattr(batch, '__qualname__', batch)!r}: annotate the batch function's return as list[X], "
        f"X being the field's type (found {returns!r})"
    )


__all__ = [
    "BATCH",
    "MAX_ITEMS",
    "PAGE_ITEMS",
    "PUBLIC",
    "BatchFunction",
    "GraphQLContribution",
    "GraphQLRequest",
    "batch_resolver",
    "graphql_metadata",
    "graphql_request",
]
