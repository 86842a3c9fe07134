"""The per-request context every kernel resolver receives as ``info.context``.

It holds who calls (:class:`~nentang.kernel.identity.caller.Caller`), for which tenant (resolved
from the API token or ``X-Tenant``), the schema serving the request, and the request's DataLoaders,
created on first use. Resolvers ask it for permissions (:meth:`GraphQLContext.require`) instead of
reaching for the authoriser, and load rows through :meth:`GraphQLContext.loader` so that a tree of
N nodes costs one query per level, not one per node.

Plugins never see this object: their resolvers call :func:`nentang.sdk.graphql.graphql_request`,
which asks :meth:`GraphQLContext.plugin_request` for a view bound to the plugin and the tenant.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from nentang.kernel.audit.refusals import aimed_at
from nentang.kernel.data.inline_reads import is_busy
from nentang.kernel.data.sqlite_begin import reading_only
from nentang.kernel.graphql.pagination import check_first
from nentang.kernel.graphql.plugin_view import PluginInfoContext, new_view
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.caller import Caller
from nentang.kernel.plugins.context import KernelTenantContext, tenant_ref
from nentang.kernel.plugins.running import PluginCall, on_behalf_of_plugin, plugin_call
from nentang.kernel.plugins.watchdog import on_plugin_thread
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import path_ids
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.context import TenantContext, TenantRef
from nentang.sdk.errors import PermissionDenied

if TYPE_CHECKING:
    from nentang.kernel.graphql.config import GraphQLSettings
    from nentang.kernel.graphql.served import ServedSchema

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


@final
@dataclass(frozen=True, slots=True, eq=False)
class LoaderSpec(Generic[K, V]):
    """A kind of DataLoader, declared next to the types that use it (one instance per request).

    ``batch`` runs in a worker thread with every key requested in one tick of the event loop and
    returns the values in the same order (``None`` where a key has no value).
    """

    name: str
    batch: Callable[[GraphQLContext, list[K]], Sequence[V]]


@final
class GraphQLContext:
    __slots__ = (
        "__weakref__",
        "_loaders",
        "_plugin_requests",
        "_plugin_view",
        "batch_loaders",
        "caller",
        "kernel",
        "reader",
        "reading",
        "served",
        "settings",
        "tenant",
        "tenant_changed",
    )

    def __init__(
        self,
        *,
        kernel: Kernel,
        caller: Caller,
        tenant: TenantInfo,
        served: ServedSchema,
        settings: GraphQLSettings,
        reader: Engine | None = None,
        tenant_changed: Callable[[str], None] | None = None,
        reading: bool = False,
    ) -> None:
        self.kernel = kernel
        self.caller = caller
        #: The tenant of the request (the token's, or the one named by ``X-Tenant``).
        self.tenant = tenant
        #: The schema this request runs on (its tenant's enabled-plugin set).
        self.served = served
        self.settings = settings
        #: For one-statement Core reads of the kernel's *platform* tables (tenants, users...) in a
        #: loader: far cheaper than a session. Tenant-owned tables are read through scoped sessions.
        self.reader: Engine = reader if reader is not None else kernel.db.app_engine
        #: Tell the endpoint that a tenant's status or name changed (it forgets what it cached).
        self.tenant_changed: Callable[[str], None] = tenant_changed or _ignore
        #: A query, not a mutation: plugin sessions begin as readers (on SQLite, they do not
        #: queue behind writers; see ``kernel/data/sqlite_begin.py``).
        self.reading = reading
        self._loaders: dict[LoaderSpec[Any, Any], DataLoader[Any, Any]] = {}
        self._plugin_requests: dict[str, PluginRequest] = {}
        self._plugin_view: PluginInfoContext | None = None
        #: The request's answers of batch fields, per field (``batching.py``).
        self.batch_loaders: dict[Any, Any] = {}

    # -- permissions ------------------------------------------------------------------------------

    def check(self, permission: str, tenant_id: int | None = None) -> bool:
        """Whether the caller holds ``permission`` at ``tenant_id`` (default: the request's tenant)."""
        if not self.caller.authenticated:
            return False
        return self.kernel.authz.check(
            self.caller.principal, self.tenant.id if tenant_id is None else tenant_id, permission
        )

    def signed_in(self) -> Actor:
        """The caller as the actor of a write; ``auth.required`` for an anonymous caller, raised
        before any lookup so that an anonymous request learns nothing about what exists."""
        if not self.caller.authenticated:
            raise PermissionDenied("sign in, or send an API token, to do this", code="auth.required")
        return self.caller.actor

    def require(self, permission: str, tenant_id: int | None = None) -> None:
        """Raise ``auth.required`` for an anonymous caller, ``permission.denied`` for one without it."""
        self.signed_in()
        where = self.tenant.id if tenant_id is None else tenant_id
        try:
            self.kernel.authz.require(self.caller.principal, where, permission)
        except PermissionDenied as refusal:
            aimed_at(refusal, where)
            raise

    def require_at(self, permission: str, tenant: TenantInfo) -> None:
        """:meth:`require` at a tenant already loaded: the grant check reads the ancestors from the
        tenant's own path, so checking every node of a tree costs no query (the authoriser's rule:
        a grant at the tenant or at an ancestor whose role allows ``permission``)."""
        self.signed_in()
        authz = self.kernel.authz
        on_path, allows = frozenset(path_ids(tenant.path)), authz.model.allows
        if not any(t in on_path and allows(role, permission) for t, role in authz.grants.get(self.caller.principal)):
            refusal = PermissionDenied(
                f"{self.caller.principal} may not {permission!r} at tenant {tenant.code!r}", code="permission.denied"
            )
            aimed_at(refusal, tenant.id)
            raise refusal

    def refusals_at(self, permission: str, tenants: Sequence[TenantInfo]) -> list[PermissionDenied | None]:
        """:meth:`require_at` for every tenant of a page at once (a batch field): the refusal for each
        tenant where the caller may not, ``None`` where it may — the caller's grants read once."""
        self.signed_in()
        authz = self.kernel.authz
        allows = authz.model.allows
        granted = {t for t, role in authz.grants.get(self.caller.principal) if allows(role, permission)}
        answers: list[PermissionDenied | None] = []
        for tenant in tenants:
            if any(t in granted for t in path_ids(tenant.path)):
                answers.append(None)
                continue
            try:
                self.require_at(permission, tenant)  # the very refusal (and its audit mark) a single check gives
            except PermissionDenied as refusal:
                answers.append(refusal)
            else:
                answers.append(None)
        return answers

    # -- helpers for resolvers --------------------------------------------------------------------

    def page_size(self, first: int) -> int:
        return check_first(first, self.settings.max_page_size)

    def loader(self, spec: LoaderSpec[K, V]) -> DataLoader[K, V]:
        """This request's DataLoader of kind ``spec`` (created on first use)."""
        loader = self._loaders.get(spec)
        if loader is None:

            async def load(keys: list[K]) -> Sequence[V]:
                return await run_in_threadpool(spec.batch, self, keys)

            loader = self._loaders[spec] = DataLoader(load_fn=load)
        return loader

    async def run_sync(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run blocking work (database calls) in a worker thread."""
        return await run_in_threadpool(function, *args, **kwargs)

    # -- plugins ----------------------------------------------------------------------------------

    def plugin_view(self) -> PluginInfoContext:
        """What a plugin's resolver finds as ``info.context`` (``plugin_view.py``)."""
        if self._plugin_view is None:
            self._plugin_view = new_view(self)
        return self._plugin_view

    def plugin_request(self, info: Any) -> PluginRequest:
        """The provider behind :func:`nentang.sdk.graphql.graphql_request`."""
        owner = self.served.owner(info.path.typename, info.field_name)
        if owner is None:
            raise RuntimeError(f"graphql_request() is for plugin resolvers; {info.field_name!r} is the kernel's")
        request = self._plugin_requests.get(owner)
        if request is None:
            request = self._plugin_requests[owner] = PluginRequest(self, owner)
        return request


def _ignore(_code: str) -> None:
    return None


#: Plugin request -> the request's context. Kept here, not on the request: the context leads to the
#: whole kernel, and the request is the plugin's object. Weak both ways: the context holds its
#: plugin requests, so a strong value would keep both alive for ever.
_CONTEXTS: Final[weakref.WeakKeyDictionary[PluginRequest, weakref.ref[GraphQLContext]]] = weakref.WeakKeyDictionary()


def _context(request: PluginRequest) -> GraphQLContext:
    context = _CONTEXTS[request]()
    if context is None:
        raise RuntimeError("this request has ended")
    return context


@final
class PluginRequest:
    """The kernel's :class:`nentang.sdk.graphql.GraphQLRequest`: one plugin's view of one request.

    Its attributes are the plugin's name and its tenant; the request's context (and through it
    the kernel) is looked up in this module, so no attribute of the request reaches it."""

    __slots__ = ("__weakref__", "_tenant", "plugin")

    def __init__(self, ctx: GraphQLContext, plugin: str) -> None:
        _CONTEXTS[self] = weakref.ref(ctx)
        self._tenant: TenantRef | None = None
        self.plugin = plugin

    @property
    def tenant(self) -> TenantRef:
        if self._tenant is None:
            self._tenant = tenant_ref(_context(self).tenant)
        return self._tenant

    @property
    def actor(self) -> str:
        return _context(self).caller.principal

    @property
    def authenticated(self) -> bool:
        return _context(self).caller.authenticated

    @property
    def settings(self) -> Mapping[str, Any]:
        ctx = _context(self)
        with on_behalf_of_plugin():  # the activation cache may read kernel tables
            activations = ctx.kernel.plugins.dispatcher.activations.get(ctx.tenant.id)
        return activations.settings.get(self.plugin, {})

    def has_permission(self, permission: str) -> bool:
        with on_behalf_of_plugin():
            return _context(self).check(permission)

    def require_permission(self, permission: str) -> None:
        with on_behalf_of_plugin():
            _context(self).require(permission)

    async def run(self, work: Callable[[TenantContext], R]) -> R:
        if on_plugin_thread():  # the resolver runs under the watchdog, off the event loop: no hop
            return self._run_here(work)
        # Not from a plugin resolver wrapped by the kernel (a test, a script): a worker thread,
        # still under the watchdog's deadline.
        ctx = _context(self)
        session = ctx.kernel.db.tenant(self.tenant.id)
        if ctx.reading:
            reading_only(session)
        call = PluginCall(self.plugin, self.tenant.id, "graphql")
        return await run_in_threadpool(ctx.kernel.plugins.watchdog.call, call, self._run, work, session)

    def _run_here(self, work: Callable[[TenantContext], R]) -> R:
        ctx = _context(self)
        db = ctx.kernel.db
        if ctx.reading and db.reads_in_process:
            # A query on the embedded database: a snapshot read that waits for no writer, on this
            # plugin thread's kept connection (no pool). A query's work that tried to write while
            # another connection held the write lock is rolled back and run again as a writer
            # (IMMEDIATE: it queues for the lock before reading, so its snapshot cannot go stale).
            try:
                return self._run(work, db.inline_read(self.tenant.id))
            except OperationalError as exc:
                if not is_busy(exc):
                    raise
            return self._run(work, db.tenant(self.tenant.id))
        session = db.tenant(self.tenant.id)
        if ctx.reading:
            reading_only(session)
        return self._run(work, session)

    def _run(self, work: Callable[[TenantContext], R], session: Session) -> R:
        kernel, tenant = _context(self).kernel, self.tenant
        settings = self.settings
        tables = kernel.plugins.host.tables.get(self.plugin, frozenset())
        with session, session.begin():
            context = KernelTenantContext(
                tenant=tenant,
                plugin=self.plugin,
                actor=self.actor,
                settings=settings,
                session=session,
                authz=kernel.authz,
                audit=kernel.audit,
            )
            with plugin_call(self.plugin, tenant.id, "graphql", tables):
                result = work(context)
                session.flush()  # the plugin's changes are checked as the plugin's, before the commit
            return result
