"""Plugin resolvers under concurrent writes: queries never queue behind a writer, and a mutation
that waits for the database's write lock holds up nothing else.

On the embedded SQLite database a query's plugin work runs on the event loop itself (no thread
hop, see ``PluginRequest.run``); that is only sound because its snapshot read never waits for a
writer, while writes, which may wait, stay in worker threads. Both halves are pinned here, on
both databases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.fixtures.notes_plugin.models import Note
from tests.graphql_fixtures import NOTES_CODE, NOTES_PERMISSIONS, GraphQL, token_for
from tests.identity_fixtures import identity_settings
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

LISTING = "{ notes_list(first: 10) { items { id body } } }"
#: A plugin whose *query* writes (an access log of who viewed the notes): on SQLite such a write
#: may meet another connection's write lock.
READLOG_CODE = """
import uuid

import strawberry
from sqlalchemy import func, select

from nentang.sdk import GraphQLContribution, graphql_request, hookimpl
from tests.fixtures.notes_plugin.models import Note


@strawberry.type
class ReadlogQuery:
    @strawberry.field
    async def readlog_view(self, info: strawberry.Info) -> int:
        def view(ctx):
            # Writes before it reads: on SQLite the write takes the lock while holding no snapshot,
            # the case where SQLite would wait (its busy timeout) rather than refuse at once.
            ctx.session.add(Note(id=10_000 + uuid.uuid4().int % 10**6, body="viewed by " + ctx.actor))
            ctx.session.flush()
            return ctx.session.scalar(select(func.count()).select_from(Note)) - 1

        return await graphql_request(info).run(view)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(ReadlogQuery,))
"""
#: how long the mutation is given to reach the write lock before the query is sent
SETTLE_S = 0.3
#: far below SQLite's busy timeout (30 s, ``kernel/data/engines.py``): what waiting on the loop would take
STALL_S = 10.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("notes", NOTES_CODE, **NOTES_PERMISSIONS)
    plugin_factory.make("readlog", READLOG_CODE)
    kernel = make_kernel()
    for plugin in ("notes", "readlog"):
        kernel.plugins.activation.enable(
            actor=Actor.command_line(), plugin=plugin, tenant_code=tree.c1.code, checked=False
        )
    return kernel


@pytest.fixture
def gql(plugged: Kernel) -> Iterator[GraphQL]:
    with TestClient(create_app(plugged), raise_server_exceptions=False) as client:
        yield GraphQL(client, token=token_for(plugged, "00001", "notes.writer"))


class Writer(threading.Thread):
    """Holds a write transaction open (an uncommitted note) until told to commit."""

    def __init__(self, kernel: Kernel, tenant_id: int) -> None:
        super().__init__(daemon=True)
        self.kernel, self.tenant_id = kernel, tenant_id
        self.holding, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.kernel.db.tenant(self.tenant_id) as session, session.begin():
                session.add(Note(id=100, body="bản nháp"))
                session.flush()  # on SQLite the database's write lock is held from here
                self.holding.set()
                if not self.release.wait(60):
                    raise TimeoutError("the test never released the writer")
        except BaseException as exc:  # reported by the test: a thread's exception would be lost
            self.error = exc
            self.holding.set()

    def __enter__(self) -> Writer:
        self.start()
        assert self.holding.wait(10) and self.error is None, self.error
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.join(30)
        assert self.error is None, self.error


def test_a_query_answers_while_another_connection_holds_the_write_lock(gql: GraphQL, plugged: Kernel, tree: Tree):
    gql.data('mutation { notes_add(body: "đã lưu") { id } }')
    with Writer(plugged, tree.c1.id):
        # Had the read waited for the writer, the writer (waiting for this answer) and the read
        # would hold each other until the busy timeout, and the request would fail.
        seen = gql.data(LISTING)["notes_list"]["items"]
    assert seen == [{"id": 1, "body": "đã lưu"}]  # the uncommitted note is not visible
    assert [n["id"] for n in gql.data(LISTING)["notes_list"]["items"]] == [1, 100]


def test_a_mutation_waiting_for_the_write_lock_holds_up_no_query(gql: GraphQL, plugged: Kernel, tree: Tree) -> None:
    assert gql.data(LISTING)["notes_list"]["items"] == []  # the token's use is recorded (a write) before
    answers: dict[str, Any] = {}
    mutation = threading.Thread(
        target=lambda: answers.update(added=gql.post('mutation { notes_add(body: "chờ khóa") { id } }')),
        daemon=True,
    )
    with Writer(plugged, tree.c1.id):
        mutation.start()
        time.sleep(SETTLE_S)  # the mutation now waits for the lock (on SQLite), in its worker thread
        # Were the mutation waiting on the event loop, this query could not be answered until the
        # writer let go, and the writer lets go only after it.
        answers["query"] = gql.data(LISTING)["notes_list"]["items"]
    mutation.join(30)
    # Committed rows only (on PostgreSQL the mutation need not wait, and may already be among them).
    assert {n["body"] for n in answers["query"]} <= {"chờ khóa"}
    added = answers["added"]
    assert added.status_code == 200 and "errors" not in added.json(), added.text
    assert {n["body"] for n in gql.data(LISTING)["notes_list"]["items"]} == {"bản nháp", "chờ khóa"}


def test_a_query_that_writes_while_the_write_lock_is_held_waits_off_the_event_loop(
    gql: GraphQL, plugged: Kernel, tree: Tree
) -> None:
    assert gql.data("{ readlog_view }") == {"readlog_view": 0}  # the token's use is recorded before
    answers: dict[str, Any] = {}
    viewer = threading.Thread(target=lambda: answers.update(viewed=gql.post("{ readlog_view }")), daemon=True)
    with Writer(plugged, tree.c1.id):
        viewer.start()
        time.sleep(SETTLE_S)  # the view now waits for the lock, in a worker thread (on SQLite)
        # Had the view waited for the lock on the event loop, this query would be answered only
        # once SQLite's busy timeout (30 s) gave up on the view: a liveness bound, not a speed one.
        asked = time.monotonic()
        answers["query"] = gql.data(LISTING)["notes_list"]["items"]
        assert time.monotonic() - asked < STALL_S
    viewer.join(30)
    viewed = answers["viewed"]
    assert viewed.status_code == 200 and "errors" not in viewed.json(), viewed.text
    bodies = [n["body"] for n in gql.data(LISTING)["notes_list"]["items"]]
    assert bodies.count("bản nháp") == 1 and sum(b.startswith("viewed by token:") for b in bodies) == 2
