"""``nentang_kernel``: a started kernel on the test's own database, with the helpers plugin tests use.

This is the one module of the kit that drives the kernel. It imports the kernel lazily, so that the
kit's public names stay importable where only the SDK is installed (a plugin's type checks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Final, final

from nentang.sdk.context import TenantContext, TenantRef
from nentang.sdk.errors import NotFound
from nentang.sdk.events import Event
from nentang.sdk.testing._graphql import GraphQLClient, GraphQLUnavailable
from nentang.sdk.testing._recorder import HookRecorder
from nentang.sdk.testing._values import ActingUser, TenantLike, TenantTree

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.orm import Session

    from nentang.kernel.runtime import Kernel
    from nentang.kernel.settings import Settings

#: Who the kit acts as when it provisions, grants and enables (an operator, audited as such).
OPERATOR: Final = "tests"
#: The kit's tree: (attribute, code, name, kind, parent code).
TREE_PLAN: Final = (
    ("central", "TW", "Trung ương", "central", None),
    ("province", "01", "Thành phố Hà Nội", "province", "TW"),
    ("commune", "00001", "Phường Một", "commune", "01"),
    ("other_commune", "00002", "Phường Hai", "commune", "01"),
)
#: Delivery rounds ``deliver_events`` runs at most (a plugin that keeps emitting must not loop forever).
MAX_DELIVERY_ROUNDS: Final = 100


@final
class RunningKernel:
    """A NenTang kernel started for one test, on a migrated database of its own.

    Its plugin discovery sees what is installed in the environment (your plugin, installed with
    ``pip install -e .``); nothing is enabled anywhere until the test says so. The kernel itself is
    :attr:`raw` — an escape hatch for the kit's own tests, not part of the SDK's contract.
    """

    def __init__(self, settings: Settings) -> None:
        from nentang.kernel.identity.actor import Actor
        from nentang.kernel.runtime import create_kernel

        self._operator = Actor.system(OPERATOR)
        self._stack = ExitStack()
        self._tree: TenantTree | None = None
        self._http: httpx.Client | None = None
        self._usernames = 0
        kernel = create_kernel(settings)
        #: The kernel under test (``nentang.kernel.runtime.Kernel``); not part of the SDK's contract.
        self.raw: Kernel = kernel
        self._stack.callback(kernel.close)
        try:
            with kernel.db.platform() as session, session.begin():
                kernel.authz.sync_declarations(session)  # on PostgreSQL the tables were just emptied
            kernel.start()
            self.hooks = HookRecorder(read_events=self._read_events, tenant_id=self._tenant_id)
            self.hooks._install(kernel.plugins.host.pm)
            self._stack.callback(self.hooks._uninstall)
            kernel.plugins.host.on_change(lambda: self.hooks._install(kernel.plugins.host.pm))
            self._declare_plugins(kernel)
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        """Stop the app and the kernel, and unwrap the recorded hooks (the kit calls it)."""
        self._stack.close()

    # -- tenants ---------------------------------------------------------------------------

    @property
    def tree(self) -> TenantTree:
        """The kit's tree (TW → 01 → 00001, 00002), created on first use."""
        if self._tree is None:
            from nentang.kernel.plugins.context import tenant_ref

            made: dict[str, TenantRef] = {}
            for attribute, code, name, kind, parent in TREE_PLAN:
                info = self.raw.tenants.create(
                    code=code, name=name, kind=kind, parent_code=parent, actor=self._operator
                )
                made[attribute] = tenant_ref(info)
            self._tree = TenantTree(**made)
        return self._tree

    def tenant(self, tenant: TenantLike | None = None) -> TenantRef:
        """A tenant by reference or code (``None``: the tree's commune)."""
        if tenant is None:
            return self.tree.commune
        if isinstance(tenant, TenantRef):
            return tenant
        from nentang.kernel.plugins.context import tenant_ref

        return tenant_ref(self.raw.tenants.get(tenant))

    def _tenant_id(self, code: str) -> int:
        return self.tenant(code).id

    # -- plugins ---------------------------------------------------------------------------

    @property
    def installed(self) -> frozenset[str]:
        """Plugins registered on this kernel (installed, manifest accepted, imported)."""
        return frozenset(self.raw.plugins.host.plugins)

    def enable(
        self,
        plugin: str,
        tenant: TenantLike | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        with_dependencies: bool = True,
    ) -> None:
        """Enable ``plugin`` at ``tenant`` (default: the commune) as an operator; its enable hook runs."""
        where = self.tenant(tenant)
        self._require_installed(plugin)
        self.raw.plugins.activation.enable(
            actor=self._operator,
            plugin=plugin,
            tenant_code=where.code,
            settings=dict(settings) if settings is not None else None,
            with_dependencies=with_dependencies,
            checked=False,
        )

    def disable(self, plugin: str, tenant: TenantLike | None = None) -> None:
        """Disable ``plugin`` at ``tenant`` (default: the commune); its data stays."""
        where = self.tenant(tenant)
        self.raw.plugins.activation.disable(actor=self._operator, plugin=plugin, tenant_code=where.code, checked=False)

    def enabled(self, tenant: TenantLike | None = None) -> frozenset[str]:
        """The plugins whose hooks the kernel calls at ``tenant`` now."""
        return self.raw.plugins.dispatcher.enabled(self.tenant(tenant).id)

    def _require_installed(self, plugin: str) -> None:
        host = self.raw.plugins.host
        if plugin in host.plugins:
            return
        quarantined = host.quarantined.get(plugin)
        if quarantined is not None:
            details = "; ".join(str(f) for f in quarantined.findings)
            raise NotFound(
                f"plugin {plugin!r} is installed but the kernel refused it: {quarantined.reason}"
                + (f" ({details})" if details else ""),
                code="testing.plugin_refused",
            )
        raise NotFound(
            f"plugin {plugin!r} is not installed in this environment; install it first "
            f"(`pip install -e .` in its folder). Installed: {sorted(host.plugins) or 'none'}",
            code="testing.plugin_not_installed",
        )

    def _declare_plugins(self, kernel: Kernel) -> None:
        """Make every registered plugin's permissions and role templates exist, so a test can grant
        ``forms.clerk`` before (or without) enabling ``forms``."""
        from nentang.kernel.authz.permissions import PermissionSpec, RoleTemplate

        with kernel.db.platform() as session, session.begin():
            for name, loaded in sorted(kernel.plugins.host.plugins.items()):
                manifest = loaded.manifest
                kernel.authz.sync_declarations(
                    session,
                    declared_by=name,
                    permissions=[PermissionSpec(p.name, p.description) for p in manifest.permissions],
                    templates=[RoleTemplate(r.name, r.description, r.permissions) for r in manifest.roles],
                )

    # -- data and calls --------------------------------------------------------------------

    @contextmanager
    def session(self, tenant: TenantLike | None = None) -> Iterator[Session]:
        """A data session bound to ``tenant`` (default: the commune), in a transaction committed
        when the block ends — for arranging rows and for reading them back in assertions."""
        where = self.tenant(tenant)
        with self.raw.db.tenant(where.id) as session, session.begin():
            yield session

    @contextmanager
    def context(
        self, plugin: str, tenant: TenantLike | None = None, *, actor: ActingUser | str | None = None
    ) -> Iterator[TenantContext]:
        """The context the kernel would hand ``plugin`` at ``tenant``, acting as ``actor`` (a user
        from ``nentang_user``, a principal, or ``None``: ``system:tests``), in a transaction
        committed when the block ends — for calling a plugin's own functions directly.

        The block runs as the plugin's code, as a hook does: the runtime guard refuses statements
        outside the plugin's tables (so arrange and check other data outside the block)."""
        from nentang.kernel.plugins.context import KernelTenantContext
        from nentang.kernel.plugins.running import plugin_call

        where = self.tenant(tenant)
        principal = actor.principal if isinstance(actor, ActingUser) else (actor or f"system:{OPERATOR}")
        settings = self.raw.plugins.dispatcher.activations.get(where.id).settings.get(plugin, {})
        tables = self.raw.plugins.host.tables.get(plugin, frozenset())
        with (
            self.raw.db.tenant(where.id) as session,
            session.begin(),
            plugin_call(plugin, where.id, "tests", tables),
        ):
            yield KernelTenantContext(
                tenant=where,
                plugin=plugin,
                actor=principal,
                settings=settings,
                session=session,
                authz=self.raw.authz,
                audit=self.raw.audit,
            )
            session.flush()  # the plugin's changes are checked as the plugin's

    def call_hook(
        self, hook: str, tenant: TenantLike | None = None, *, actor: str | None = None, **arguments: Any
    ) -> dict[str, Any]:
        """Call ``hook`` at ``tenant`` through the kernel's dispatcher — only plugins enabled there
        run — in one transaction; returns each plugin's non-``None`` result by plugin name."""
        where = self.tenant(tenant)
        with self.raw.db.tenant(where.id) as session, session.begin():
            results = self.raw.plugins.dispatcher.call_all(
                hook, where, actor=actor or f"system:{OPERATOR}", session=session, **arguments
            )
        return dict(results)

    def emit(self, event_type: str, payload: Mapping[str, Any] | None = None, tenant: TenantLike | None = None) -> None:
        """Emit an event at ``tenant`` (default: the commune) as ``system:tests``, committed at once."""
        from nentang.kernel.events.outbox import emit

        where = self.tenant(tenant)
        with self.raw.db.tenant(where.id) as session, session.begin():
            emit(session, tenant_id=where.id, event_type=event_type, payload=payload, actor=f"system:{OPERATOR}")

    def deliver_events(self) -> int:
        """Deliver every pending event to the plugins enabled at its tenant, as the event runner
        does in a server; returns how many events completed."""
        completed = 0
        for _ in range(MAX_DELIVERY_ROUNDS):
            done = self.raw.events.deliver_batch()
            if not done:
                break
            completed += done
        return completed

    def _read_events(self, after_id: int) -> list[Event]:
        from sqlalchemy import select

        from nentang.kernel.events.models import OutboxEvent

        with self.raw.db.platform() as session:
            rows = session.scalars(select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id)).all()
            return [
                Event(
                    id=row.id or 0,
                    type=row.type,
                    tenant_id=row.tenant_id,
                    payload=json.loads(row.payload),
                    actor=row.actor,
                    occurred_at=row.occurred_at,
                )
                for row in rows
            ]

    # -- users -----------------------------------------------------------------------------

    def make_user(
        self,
        *roles: str,
        tenant: TenantLike | None = None,
        at: TenantLike | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> ActingUser:
        """Create a user at ``tenant`` and grant ``roles`` at ``at`` (see ``nentang_user``)."""
        home = self.tenant(tenant)
        where = self.tenant(at) if at is not None else home
        if username is None:
            self._usernames += 1
            username = f"user{self._usernames}"
        info = self.raw.users.create_user_as_operator(
            self._operator,
            username=username,
            display_name=username.title(),
            home_tenant_code=home.code,
            password=password,
        )
        with self.raw.db.platform() as session, session.begin():
            for role in roles:
                self.raw.authz.grant_as_operator(
                    session, actor=self._operator, principal=info.principal, role=role, tenant_id=where.id
                )
        return ActingUser(
            id=info.id,
            username=info.username,
            principal=info.principal,
            home=home,
            grants=tuple((role, where.code) for role in roles),
            password=password,
        )

    # -- HTTP and GraphQL ------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An HTTP client driving the kernel's real app in process (started on first use)."""
        if self._http is None:
            from starlette.testclient import TestClient

            from nentang.kernel.http.app import create_app

            client = TestClient(create_app(self.raw), raise_server_exceptions=False)
            self._http = self._stack.enter_context(client)
        return self._http

    def headers_for(self, user: ActingUser | None, tenant: TenantLike | None = None) -> dict[str, str]:
        """Headers of a request made by ``user``'s browser (session cookie, CSRF token) naming
        ``tenant`` in ``X-Tenant`` (default: the user's home); ``None`` user: anonymous."""
        headers: dict[str, str] = {}
        if user is not None:
            opened = self.raw.sessions.create(user.id)
            cookie = self.raw.settings.identity.session_cookie_name
            headers["Cookie"] = f"{cookie}={opened.cookie_value}"
            headers["X-CSRF-Token"] = opened.csrf_token
        where = self.tenant(tenant) if tenant is not None else (user.home if user is not None else self.tree.commune)
        headers["X-Tenant"] = where.code
        return headers

    @property
    def has_graphql(self) -> bool:
        """Whether the kernel's app serves ``/graphql``."""
        app = getattr(self.http, "app", None)
        return any(getattr(route, "path", None) == "/graphql" for route in getattr(app, "routes", ()))

    def graphql(self, user: ActingUser | None = None, tenant: TenantLike | None = None) -> GraphQLClient:
        """A GraphQL client acting as ``user`` in ``tenant`` (see ``nentang_graphql``)."""
        if not self.has_graphql:
            raise GraphQLUnavailable(
                "GraphQL not available in this kernel: its HTTP app has no /graphql endpoint "
                "(nentang.kernel.graphql is not wired into create_app)"
            )
        headers = self.headers_for(user, tenant)
        return GraphQLClient(
            self.http, headers, user=user.principal if user is not None else None, tenant=headers["X-Tenant"]
        )


__all__ = ["RunningKernel"]
