"""SQLite's authorizer: while a plugin call is marked, the engine itself refuses tables outside the
call's set, schema changes, PRAGMAs, ATTACH and file functions — through SQLAlchemy and below it,
and also for a statement the kernel prepared (and the driver cached) before.

The runtime guard (``kernel/data/plugin_guard.py``) refuses most of these statements before they
reach the driver; the tests that go through SQLAlchemy switch its engine listeners off
(:func:`guard_off`), so that they show the layer below on its own: what it refuses if the guard
missed something. The raw-driver tests need no switch, the guard never sees them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from nentang.kernel.data import plugin_guard
from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins import running
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.running import PluginCall
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import ScopeViolation
from nentang.sdk.events import Event
from tests.conftest import ON_POSTGRES, Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's authorizer: the embedded database only")

NOTES = frozenset({"testnotes_note"})


@pytest.fixture
def guard_off(kernel: Kernel) -> Iterator[None]:
    engine = kernel.db.app_engine
    listeners = (
        ("before_execute", plugin_guard._check_statement),
        ("before_cursor_execute", plugin_guard._check_driver_sql),
    )
    for name, listener in listeners:
        event.remove(engine, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.listen(engine, name, listener)


@contextmanager
def as_plugin(tenant_id: int, tables: frozenset[str] = NOTES, plugin: str = "notes") -> Iterator[PluginCall]:
    call = PluginCall(plugin, tenant_id, "test.entry", tables=tables)
    token = running.enter(call)
    try:
        yield call
    finally:
        running.leave(token)


def add_note(kernel: Kernel, tenant_id: int, body: str) -> None:
    with kernel.db.tenant(tenant_id) as session, session.begin():
        session.execute(
            text("INSERT INTO testnotes_note (tenant_id, id, body) VALUES (:t, 1, :b)"), {"t": tenant_id, "b": body}
        )


@pytest.mark.usefixtures("guard_off")
def test_a_plugin_call_reads_and_writes_its_own_tables_only(kernel: Kernel, tree: Tree) -> None:
    with as_plugin(tree.c1.id):
        add_note(kernel, tree.c1.id, "mine")  # the tenant_id foreign key check reads kernel_tenant.id
        with kernel.db.tenant(tree.c1.id) as session, session.begin():
            assert session.execute(text("SELECT body FROM testnotes_note")).scalars().all() == ["mine"]
            session.execute(text("UPDATE testnotes_note SET body = 'edited'"))
        for statement, what in (
            ("SELECT password_hash FROM kernel_user", "read table kernel_user"),
            ("SELECT code FROM kernel_tenant", "read table kernel_tenant"),
            ("UPDATE kernel_event SET delivered = 1", "update table kernel_event"),
            ("DELETE FROM kernel_audit", "delete from table kernel_audit"),
            ("INSERT INTO kernel_grant (principal) VALUES ('x')", "insert into table kernel_grant"),
            ("SELECT n.body FROM testnotes_note n JOIN kernel_user u ON 1 = 1", "read table kernel_user"),
        ):
            with kernel.db.tenant(tree.c1.id) as session, session.begin():
                with pytest.raises(ScopeViolation, match=f"plugin 'notes' .* may not {what}") as refused:
                    session.execute(text(statement))
                assert "SQLite's authorizer" in str(refused.value)


@pytest.mark.usefixtures("guard_off")
def test_schema_changes_pragmas_attach_and_file_functions_are_refused(kernel: Kernel, tree: Tree) -> None:
    refused = {
        "CREATE TABLE smuggled (x)": "change the schema",
        "DROP TABLE testnotes_note": "change the schema",
        "ALTER TABLE testnotes_note ADD COLUMN x": "change the schema",
        "CREATE TRIGGER t AFTER INSERT ON testnotes_note BEGIN SELECT 1; END": "change the schema",
        "PRAGMA foreign_keys = OFF": "run PRAGMA foreign_keys",
        "PRAGMA table_info(kernel_user)": "run PRAGMA table_info",
        "ATTACH DATABASE ':memory:' AS other": "attach or detach",
        "SELECT load_extension('libevil')": "call the function load_extension",
    }
    with as_plugin(tree.c1.id):
        for statement, what in refused.items():
            with kernel.db.tenant(tree.c1.id) as session, session.begin(), pytest.raises(ScopeViolation, match=what):
                session.execute(text(statement))
        with kernel.db.tenant(tree.c1.id) as session:  # ordinary functions and CTEs still work
            row = session.execute(text("WITH RECURSIVE n(i) AS (SELECT 1) SELECT upper('a'), count(*) FROM n")).one()
            assert tuple(row) == ("A", 1)


def test_the_raw_driver_is_checked_too(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, "mine")
    raw = kernel.db.app_engine.raw_connection()
    try:
        with as_plugin(tree.c1.id):
            cursor = raw.cursor()
            assert cursor.execute("SELECT body FROM testnotes_note WHERE tenant_id = ?", (tree.c1.id,)).fetchall()
            with pytest.raises(sqlite3.DatabaseError, match=r"access to kernel_user\.username is prohibited"):
                cursor.execute("SELECT username, password_hash FROM kernel_user")
            with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
                cursor.execute("ATTACH DATABASE ':memory:' AS other")
            cursor.close()
    finally:
        raw.close()


@pytest.mark.usefixtures("guard_off")
def test_a_statement_the_kernel_prepared_first_is_still_refused_to_a_plugin(kernel: Kernel, tree: Tree) -> None:
    statement = text("SELECT count(*) FROM kernel_user")
    with kernel.db.app_engine.connect() as conn:  # one connection, so one statement cache
        assert conn.execute(statement).scalar() is not None  # the kernel: prepared and cached
        with as_plugin(tree.c1.id), pytest.raises(ScopeViolation, match="may not read table kernel_user"):
            conn.execute(statement)
        # a plugin allowed that table, then one that is not: their statements do not share an entry
        with as_plugin(tree.c1.id, NOTES | {"kernel_user"}, plugin="wide"):
            assert conn.execute(statement).scalar() is not None
        with as_plugin(tree.c1.id, NOTES, plugin="wide"), pytest.raises(ScopeViolation):
            conn.execute(statement)
        assert conn.execute(statement).scalar() is not None  # and the kernel's own entry still serves it


def test_outside_a_plugin_call_and_on_its_behalf_everything_is_allowed(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.platform() as session:
        assert session.execute(text("SELECT count(*) FROM kernel_user")).scalar() is not None
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    with as_plugin(tree.c1.id), running.on_behalf_of_plugin() as acting_for:
        assert acting_for is not None and acting_for.plugin == "notes"
        with kernel.db.platform() as session:
            assert session.execute(text("SELECT count(*) FROM kernel_tenant")).scalar() == 6


@pytest.mark.usefixtures("guard_off")
def test_a_connection_first_opened_inside_a_plugin_call_sets_itself_up(kernel: Kernel, tree: Tree) -> None:
    kernel.db.dispose()  # the pool is empty: the next session opens a new connection, with its PRAGMAs
    with as_plugin(tree.c1.id):
        add_note(kernel, tree.c1.id, "fresh")
    with kernel.db.platform() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


SNOOPING_CODE = """
from sqlalchemy import event, text
from nentang.sdk import hookimpl

SEEN = []


@hookimpl
def nentang_event_received(ctx, event):
    driver = ctx.session.connection().connection.driver_connection
    SEEN.append(driver.execute("SELECT username FROM kernel_user").fetchall())
"""


def test_a_real_hook_reaching_the_driver_is_refused_a_kernel_table_by_the_engine(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("snoop", SNOOPING_CODE)
    kernel = make_kernel()
    kernel.plugins.activation.enable(
        actor=Actor.command_line(), plugin="snoop", tenant_code="00001", settings={}, checked=False
    )
    ping = Event(id=1, type="test.ping", tenant_id=tree.c1.id)
    (outcome,) = kernel.plugins.dispatcher.call_robust(
        "nentang_event_received", tenant_ref(tree.c1), actor="system:t", event=ping
    )
    assert isinstance(outcome.error, sqlite3.DatabaseError)  # the driver's own refusal, below the guard
    assert "access to kernel_user.username is prohibited" in str(outcome.error)
