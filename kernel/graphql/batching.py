"""Batch fields: a field declared with :func:`nentang.sdk.graphql.batch_resolver` answers for every
item of a page in one call.

When a schema is built, each such field (the kernel's, like ``Tenant.parent``, or a plugin's) gets
a graphql-core ``resolve`` that asks the request's :class:`BatchLoader` for that field: every item
asking in one tick of the event loop goes into one call of the batch function. The planned
completion (``completion.py``) asks the same loader for all the items of a page at once, without
a resolver call per item; graphql-core's completion, when the plan gives up, asks it item by item
and finds the answers already there (the loader keeps them per item, for the request), so the
batch function runs once per page either way.

A plugin's batch function is one plugin call: run by the watchdog in a plugin thread, under the
plugin's deadline and the runtime guard, its ``info.context`` the plugin's view (``plugin_view.py``),
a timeout charged to its error budget like any resolver's (``plugin_resolvers.py``). A kernel batch
function runs on the event loop, like the kernel's other resolvers.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, final

from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.types.info import Info

from nentang.kernel.graphql.plugin_resolvers import run_plugin_resolver
from nentang.kernel.plugins.quarantine import ErrorBudget
from nentang.kernel.plugins.running import PluginCall
from nentang.kernel.plugins.watchdog import Watchdog
from nentang.sdk.graphql import BATCH

if TYPE_CHECKING:
    from nentang.kernel.graphql.served import ServedSchema

#: Attribute of an installed field's ``resolve``: its :class:`BatchField` (read by the plan).
FIELD: Final = "nentang_batch_field"


@final
class Failed:
    """An item's outcome that is an error (kept as a value: a future never holds an exception that
    nobody may ask for)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


@final
class BatchField:
    """One batch field of a served schema: its batch function and who owns it."""

    __slots__ = ("batch", "budget", "definition", "entry", "plugin", "watchdog")

    def __init__(
        self,
        batch: Callable[..., Any],
        definition: Any,
        entry: str,
        plugin: str | None,
        watchdog: Watchdog,
        budget: ErrorBudget,
    ) -> None:
        self.batch = batch
        #: strawberry's field, for the ``strawberry.Info`` the batch function receives.
        self.definition = definition
        self.entry = entry
        self.plugin = plugin
        self.watchdog = watchdog
        self.budget = budget

    async def call(self, context: Any, roots: list[Any], info: GraphQLResolveInfo) -> list[Any]:
        """The outcomes for ``roots``, in order: values, or :class:`Failed` (never raises)."""
        try:
            if self.plugin is None:
                values = self.batch(roots, Info(_raw_info=info, _field=self.definition))
                if inspect.isawaitable(values):
                    values = await values
            else:
                view = info._replace(context=context.plugin_view())
                call = PluginCall(self.plugin, context.tenant.id, self.entry)
                sinfo = Info(_raw_info=view, _field=self.definition)
                values = await run_plugin_resolver(
                    self.watchdog, self.budget, call, context.tenant, self.batch, roots, sinfo
                )
            values = list(values)
            if len(values) != len(roots):
                raise ValueError(
                    f"{self.entry}: the batch function returned {len(values)} values for {len(roots)} items"
                )
        except Exception as error:
            return [Failed(error)] * len(roots)
        return [Failed(v) if isinstance(v, Exception) else v for v in values]


@final
class BatchLoader:
    """One request's answers for one batch field, per item (by identity: the item is kept).

    The plan asks for a whole page at once, and usually first: that ask is kept as one group
    (items and one future), without a per-item entry; the per-item index is built only when an
    item is asked for alone or a later ask may repeat an item (graphql-core's path, another level).
    """

    __slots__ = ("_context", "_field", "_groups", "_index", "_pending", "_running")

    def __init__(self, field: BatchField, context: Any) -> None:
        self._field = field
        self._context = context
        #: Every group asked for: its items and the future of their outcomes.
        self._groups: list[tuple[list[Any], asyncio.Future[list[Any]]]] = []
        #: id(item) -> (item, future, position), built on first need.
        self._index: dict[int, tuple[Any, asyncio.Future[list[Any]], int]] | None = None
        self._pending: tuple[list[Any], asyncio.Future[list[Any]], GraphQLResolveInfo] | None = None
        self._running: set[asyncio.Task[None]] = set()  # held until done (the loop keeps only weak references)

    def _open(self, info: GraphQLResolveInfo) -> tuple[list[Any], asyncio.Future[list[Any]], GraphQLResolveInfo]:
        """The group this tick's asks join (sent once every item of the tick has asked)."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = ([], loop.create_future(), info)
            self._groups.append(self._pending[:2])  # type: ignore[arg-type]
            loop.call_soon(self._dispatch)
        return self._pending

    def _known(self) -> dict[int, tuple[Any, asyncio.Future[list[Any]], int]]:
        if self._index is None:
            self._index = {id(r): (r, future, i) for roots, future in self._groups for i, r in enumerate(roots)}
        return self._index

    def _slot(self, root: Any, info: GraphQLResolveInfo) -> tuple[asyncio.Future[list[Any]], int]:
        index = self._known()
        known = index.get(id(root))
        if known is not None and known[0] is root:
            return known[1], known[2]
        roots, future, _info = self._open(info)
        index[id(root)] = (root, future, len(roots))
        roots.append(root)
        return future, len(roots) - 1

    def _dispatch(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            roots, future, info = pending
            task = asyncio.ensure_future(self._settle(roots, future, info))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _settle(self, roots: list[Any], future: asyncio.Future[list[Any]], info: GraphQLResolveInfo) -> None:
        outcomes = await self._field.call(self._context, roots, info)
        if not future.done():
            future.set_result(outcomes)

    def load(self, root: Any, info: GraphQLResolveInfo) -> Awaitable[Any]:
        """One item's value (graphql-core's path), asked for now; awaiting it raises the item's error."""
        future, index = self._slot(root, info)
        return _outcome(future, index)

    async def load_many(self, roots: Sequence[Any], info: GraphQLResolveInfo) -> list[Any]:
        """Every item's outcome (the plan's path): values or :class:`Failed`, in order."""
        if not self._groups:  # the first ask: nothing to look up, the page is the group
            items, future, _info = self._open(info)
            items.extend(roots)
            return list(await future)
        slots = [self._slot(root, info) for root in roots]
        settled: dict[int, list[Any]] = {}
        for future, _index in slots:
            if id(future) not in settled:
                settled[id(future)] = await future
        return [settled[id(future)][index] for future, index in slots]


async def _outcome(future: asyncio.Future[list[Any]], index: int) -> Any:
    outcome = (await future)[index]
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome


def loader_of(context: Any, field: BatchField) -> BatchLoader:
    """The request's loader for ``field`` (kept on the request's context, created on first use)."""
    loaders: dict[BatchField, BatchLoader] = context.batch_loaders
    loader = loaders.get(field)
    if loader is None:
        loader = loaders[field] = BatchLoader(field, context)
    return loader


def install_batch_fields(served: ServedSchema, watchdog: Watchdog, budget: ErrorBudget) -> list[str]:
    """Give each batch field of ``served`` its batching ``resolve``; returns the fields installed.

    Run after the plugins' resolvers are guarded: the guard's per-item wrapper of a plugin's batch
    field is replaced, the batch call being guarded instead."""
    installed = []
    for type_ in served.schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            batch = getattr(getattr(resolver, "wrapped_func", None), BATCH, None)
            if batch is None or field.args:
                continue
            entry = f"{type_.name}.{name}"
            batched = BatchField(batch, definition, entry, served.owner(type_.name, name), watchdog, budget)
            field.resolve = _resolve_by(batched)
            installed.append(entry)
    return installed


def _resolve_by(field: BatchField) -> Callable[..., Any]:
    def resolve(root: Any, info: GraphQLResolveInfo) -> Any:
        return loader_of(info.context, field).load(root, info)

    setattr(resolve, FIELD, field)
    return resolve
