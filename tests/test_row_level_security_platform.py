"""Row-level security on every table with a ``tenant_id``, the kernel's platform tables included
(``kernel_event``, grants, roles, tokens, plugin policies and quarantines): a tenant-bound
transaction's raw SQL sees and writes its own tenant's rows only, while the kernel's unbound reads
(event delivery, the grant cache) still see every tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from nentang.kernel.events.outbox import emit
from nentang.kernel.runtime import Kernel
from tests.conftest import Tree

pytestmark = pytest.mark.postgres_only

_TABLES_WITH_TENANT_ID = text(
    """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
         FROM information_schema.columns col
         JOIN pg_class c ON c.relname = col.table_name
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = col.table_schema
        WHERE col.column_name = 'tenant_id' AND col.table_schema = current_schema() AND c.relkind = 'r'
        ORDER BY c.relname"""
)


def emit_for(kernel: Kernel, tenant_id: int, event_type: str) -> None:
    with kernel.db.tenant(tenant_id) as session, session.begin():
        emit(session, tenant_id=tenant_id, event_type=event_type, payload={}, actor="user:1")


def test_every_table_with_a_tenant_id_has_forced_row_level_security(kernel: Kernel) -> None:
    with kernel.db.owner_engine.connect() as conn:
        rows = conn.execute(_TABLES_WITH_TENANT_ID).all()
    names = {row.relname for row in rows}
    assert {"kernel_event", "kernel_grant", "kernel_audit", "kernel_plugin_activation"} <= names
    unprotected = [row.relname for row in rows if not (row.relrowsecurity and row.relforcerowsecurity)]
    assert unprotected == []


def test_a_tenant_session_sees_only_its_own_events_through_raw_sql(kernel: Kernel, tree: Tree) -> None:
    emit_for(kernel, tree.c1.id, "test.of_c1")
    emit_for(kernel, tree.c2.id, "test.of_c2")
    with kernel.db.tenant(tree.c2.id) as session, session.begin():
        types = session.execute(text("SELECT type FROM kernel_event WHERE type LIKE 'test.%'")).scalars().all()
        assert types == ["test.of_c2"]
        changed = session.execute(text("UPDATE kernel_event SET delivered = true WHERE type = 'test.of_c1'"))
        assert changed.rowcount == 0
        assert session.execute(text("DELETE FROM kernel_event WHERE type = 'test.of_c1'")).rowcount == 0
    with kernel.db.tenant(tree.c2.id) as session:
        session.begin()
        with pytest.raises(DBAPIError, match="row-level security"):
            session.execute(
                text(
                    "INSERT INTO kernel_event (tenant_id, type, payload, actor, occurred_at, delivered, attempts) "
                    "VALUES (:t, 'test.forged', '{}', 'x', now(), false, 0)"
                ),
                {"t": tree.c1.id},
            )
        session.rollback()
    # the kernel's unbound platform scope still sees both tenants' events (delivery needs it)
    with kernel.db.platform() as session, session.begin():
        every = session.execute(text("SELECT type FROM kernel_event WHERE type LIKE 'test.%' ORDER BY id"))
        assert every.scalars().all() == ["test.of_c1", "test.of_c2"]


def test_a_subtree_session_reads_its_subtree_and_writes_nothing(kernel: Kernel, tree: Tree) -> None:
    for tenant in (tree.c1, tree.c2, tree.c3):
        emit_for(kernel, tenant.id, f"test.of_{tenant.code}")
    with kernel.db.subtree(tree.p1.id, kernel.tenants.subtree_ids(tree.p1.id)) as session:
        session.begin()
        types = session.execute(text("SELECT type FROM kernel_event WHERE type LIKE 'test.%' ORDER BY id"))
        assert types.scalars().all() == ["test.of_00001", "test.of_00002"]
        assert session.execute(text("UPDATE kernel_event SET attempts = 9")).rowcount == 0
        session.rollback()


def test_other_tenants_grants_and_tokens_are_invisible_to_a_tenant_session(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.platform() as session, session.begin():
        role = session.execute(text("SELECT id FROM kernel_role WHERE tenant_id IS NULL LIMIT 1")).scalar()
        for tenant in (tree.c1, tree.c2):
            session.execute(
                text(
                    "INSERT INTO kernel_grant (principal, role_id, tenant_id, granted_by, granted_at) "
                    "VALUES (:p, :r, :t, 'test', now())"
                ),
                {"p": f"user:{tenant.id}", "r": role, "t": tenant.id},
            )
    with kernel.db.tenant(tree.c1.id) as session, session.begin():
        assert session.execute(text("SELECT principal FROM kernel_grant")).scalars().all() == [f"user:{tree.c1.id}"]
        # templates (tenant_id NULL) belong to the platform, not to a tenant's raw SQL
        assert session.execute(text("SELECT count(*) FROM kernel_role WHERE tenant_id IS NULL")).scalar() == 0
    with kernel.db.app_engine.connect() as conn:  # the grant cache's kind of read: no session, no tenant
        assert conn.execute(text("SELECT count(*) FROM kernel_grant")).scalar() == 2
