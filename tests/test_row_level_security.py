"""PostgreSQL enforces tenant isolation again, inside the database, for SQL the ORM guard never sees."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from nentang.kernel.data.scope import DataScope, bind_scope, install_scope_guards
from nentang.kernel.runtime import Kernel
from tests.conftest import Tree

pytestmark = pytest.mark.postgres_only


def seed_notes(kernel: Kernel, tree: Tree) -> None:
    for tenant in (tree.c1, tree.c2):
        with kernel.db.tenant(tenant.id) as session, session.begin():
            session.execute(
                text("INSERT INTO testnotes_note (tenant_id, id, body) VALUES (:t, 1, :b)"),
                {"t": tenant.id, "b": f"note of {tenant.code}"},
            )


def test_the_application_role_does_not_bypass_rls(kernel: Kernel) -> None:
    with kernel.db.app_engine.connect() as conn:
        row = conn.execute(
            text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
    assert row.current_user == kernel.settings.app_role
    assert row.rolsuper is False
    assert row.rolbypassrls is False


def test_raw_sql_without_a_tenant_sees_nothing_and_writes_nothing(kernel: Kernel, tree: Tree) -> None:
    seed_notes(kernel, tree)
    with kernel.db.app_engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM testnotes_note")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM kernel_audit")).scalar() == 0
        assert conn.execute(text("UPDATE testnotes_note SET body = 'defaced'")).rowcount == 0
        assert conn.execute(text("DELETE FROM testnotes_note")).rowcount == 0
    with kernel.db.app_engine.connect() as conn, pytest.raises(DBAPIError, match="row-level security"):
        conn.execute(text("INSERT INTO testnotes_note (tenant_id, id, body) VALUES (:t, 9, 'x')"), {"t": tree.c1.id})
    with kernel.db.tenant(tree.c1.id) as session:
        assert session.execute(text("SELECT body FROM testnotes_note")).scalars().all() == ["note of 00001"]


def test_raw_sql_in_a_tenant_session_is_confined_to_that_tenant(kernel: Kernel, tree: Tree) -> None:
    seed_notes(kernel, tree)
    with kernel.db.tenant(tree.c2.id) as session, session.begin():
        # No WHERE clause: the database itself filters.
        assert session.execute(text("SELECT body FROM testnotes_note")).scalars().all() == ["note of 00002"]
        assert (
            session.execute(
                text("UPDATE testnotes_note SET body = 'x' WHERE tenant_id = :t"), {"t": tree.c1.id}
            ).rowcount
            == 0
        )
    with kernel.db.tenant(tree.c2.id) as session:
        session.begin()
        with pytest.raises(DBAPIError, match="row-level security"):
            session.execute(
                text("INSERT INTO testnotes_note (tenant_id, id, body) VALUES (:t, 2, 'smuggled')"), {"t": tree.c1.id}
            )
        session.rollback()
    with kernel.db.tenant(tree.c1.id) as session:
        assert session.execute(text("SELECT body FROM testnotes_note")).scalars().all() == ["note of 00001"]


def test_a_subtree_scope_reads_its_subtree_and_cannot_write(kernel: Kernel, tree: Tree) -> None:
    seed_notes(kernel, tree)
    ids = kernel.tenants.subtree_ids(tree.p1.id)
    with kernel.db.subtree(tree.p1.id, ids) as session:
        session.begin()
        assert len(session.execute(text("SELECT body FROM testnotes_note")).all()) == 2
        assert session.execute(text("DELETE FROM testnotes_note")).rowcount == 0
        session.rollback()


def test_the_scope_does_not_leak_to_the_next_transaction(kernel: Kernel, tree: Tree) -> None:
    seed_notes(kernel, tree)
    with kernel.db.app_engine.connect() as conn:
        # a guarded session on this one connection, as Database.tenant() makes them
        factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint")
        install_scope_guards(factory)
        session = factory()
        bind_scope(session, DataScope.tenant(tree.c1.id))
        with session.begin():
            assert session.execute(text("SELECT count(*) FROM testnotes_note")).scalar() == 1
        session.close()
        conn.commit()
        # the same connection, outside the tenant's transaction: the settings are gone
        assert conn.execute(text("SELECT current_setting('nentang.read_tenants', true)")).scalar() in ("", None)
        assert conn.execute(text("SELECT count(*) FROM testnotes_note")).scalar() == 0
