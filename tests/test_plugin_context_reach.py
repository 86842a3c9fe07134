"""What a plugin's objects lead to (#12 item 3): no attribute of its context, of its GraphQL request or
of its resolver's ``info.context``, public or private, one or two steps away, is a kernel service.

Not walked: the session (SQLAlchemy's: it leads to its engine, which is why the runtime guard sits
on the engine, see ``plugin_guard.py``) and dunder attributes (``__globals__`` of a method leads to
any module: in-process Python is not a sandbox; the static policy refuses those names)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.authz.service import Authorizer
from nentang.kernel.data.database import Database
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import KernelServices, tenant_ref
from nentang.kernel.plugins.dispatch import Dispatcher
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.runtime import Plugins
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.graphql_fixtures import GraphQL, token_for
from tests.identity_fixtures import identity_settings
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

KERNEL_TYPES = (
    Authorizer,
    AuditLog,
    Kernel,
    Database,
    Engine,
    Connection,
    sessionmaker,
    GraphQLContext,
    Plugins,
    PluginHost,
    Dispatcher,
    KernelServices,
)

KEEPER = """
import strawberry
from nentang.sdk import GraphQLContribution, graphql_request, hookimpl

KEPT = {}


@hookimpl
def nentang_event_received(ctx, event):
    KEPT["ctx"] = ctx


@strawberry.type
class KeeperQuery:
    @strawberry.field
    async def keeper_keep(self, info: strawberry.Info) -> str:
        request = graphql_request(info)
        KEPT["request"] = request
        KEPT["info_context"] = info.context

        def work(ctx):
            KEPT["run_ctx"] = ctx
            return "kept"

        return await request.run(work)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(KeeperQuery,))
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


def reachable(root: object, depth: int = 2) -> Iterator[tuple[str, Any]]:
    """Every (path, value) of non-dunder attributes from ``root``, ``depth`` steps deep."""
    frontier: list[tuple[str, Any]] = [("", root)]
    for _ in range(depth):
        step: list[tuple[str, Any]] = []
        for path, obj in frontier:
            if isinstance(obj, Session):
                continue
            for name in dir(obj):
                if name.startswith("__") and name.endswith("__"):
                    continue
                try:
                    value = getattr(obj, name)
                except Exception:
                    continue
                step.append((f"{path}.{name}", value))
        yield from step
        frontier = step


def kernel_objects(root: object) -> list[str]:
    return [f"{path}: {type(value).__name__}" for path, value in reachable(root) if isinstance(value, KERNEL_TYPES)]


def test_the_walk_finds_a_kernel_service_when_one_is_there(kernel: Kernel) -> None:
    class Leaky:
        def __init__(self) -> None:
            self._authz = kernel.authz
            self.nested = type("N", (), {"db": kernel.db})()

    assert {"._authz: Authorizer", ".nested.db: Database"} <= set(kernel_objects(Leaky()))


def test_no_attribute_of_a_hook_context_or_a_graphql_request_leads_to_the_kernel(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("keeper", KEEPER)
    kernel = make_kernel()
    kernel.plugins.activation.enable(actor=Actor.command_line(), plugin="keeper", tenant_code="00001", checked=False)
    event = Event(id=1, type="keeper.ping", tenant_id=tree.c1.id)
    with kernel.db.tenant(tree.c1.id) as session, session.begin():
        kernel.plugins.dispatcher.call_all(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:tests", session=session, event=event
        )
    with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
        assert GraphQL(http, token=token_for(kernel, "00001", "admin")).data("{ keeper_keep }") == {
            "keeper_keep": "kept"
        }
    kept = sys.modules["nentang_keeper.plugin"].KEPT
    assert set(kept) == {"ctx", "request", "run_ctx", "info_context"}
    for name, obj in kept.items():
        assert list(reachable(obj)), name  # the walk saw something
        assert kernel_objects(obj) == [], name


def test_the_resolver_wrappers_pass_arguments_named_like_their_own_parameters() -> None:
    """A plugin's argument may be called ``source``, ``root`` or ``info``: the kernel's wrappers
    around its resolvers take theirs by position, so GraphQL's keyword arguments never collide
    (the review found ``source: SourceInput`` failing with "got multiple values")."""
    from collections import namedtuple

    from nentang.kernel.graphql.plugin_view import _with_plugin_view

    Info = namedtuple("Info", "context")
    seen = _with_plugin_view(lambda parent, info, /, **arguments: (parent, arguments))(
        "parent", Info(context=object()), source={"name": "x"}, root=1, info=2
    )
    assert seen == ("parent", {"source": {"name": "x"}, "root": 1, "info": 2})
