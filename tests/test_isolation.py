"""Tenant-owned rows: a session bound to one tenant sees and changes that tenant's rows only."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, update

from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import CrossTenantWrite, ScopeViolation
from tests.conftest import Tree
from tests.fixtures.notes_plugin.models import Note


def add_note(kernel: Kernel, tenant_id: int, note_id: int, body: str) -> None:
    with kernel.db.tenant(tenant_id) as session, session.begin():
        session.add(Note(id=note_id, body=body))


def bodies(kernel: Kernel, tenant_id: int) -> list[str]:
    with kernel.db.tenant(tenant_id) as session:
        return list(session.scalars(select(Note.body).order_by(Note.id)))


def test_insert_fills_the_bound_tenant(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "c1 note")
    with kernel.db.tenant(tree.c1.id) as session:
        note = session.scalars(select(Note)).one()
    assert note.tenant_id == tree.c1.id


def test_another_tenant_cannot_read(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "secret of c1")
    add_note(kernel, tree.c2.id, 1, "secret of c2")
    assert bodies(kernel, tree.c1.id) == ["secret of c1"]
    assert bodies(kernel, tree.c2.id) == ["secret of c2"]
    with kernel.db.tenant(tree.c2.id) as session:
        assert session.get(Note, (tree.c1.id, 1)) is None
        assert session.scalar(select(func.count()).select_from(Note)) == 1
        # An explicit filter on the other tenant still finds nothing: the guard's filter is ANDed.
        assert session.scalars(select(Note).where(Note.tenant_id == tree.c1.id)).all() == []


def test_another_tenant_cannot_update_or_delete(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "original")
    with kernel.db.tenant(tree.c2.id) as session, session.begin():
        changed = session.execute(update(Note).values(body="defaced"))
        deleted = session.execute(delete(Note).where(Note.id == 1))
    assert changed.rowcount == 0
    assert deleted.rowcount == 0
    assert bodies(kernel, tree.c1.id) == ["original"]


def test_writing_a_row_of_another_tenant_is_refused(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        session.add(Note(tenant_id=tree.c2.id, id=5, body="smuggled"))
        with pytest.raises(CrossTenantWrite, match=f"tenant {tree.c1.id}"):
            session.flush()
        session.rollback()
    assert bodies(kernel, tree.c2.id) == []
    assert bodies(kernel, tree.c1.id) == []


def test_moving_a_row_to_another_tenant_is_refused(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "mine")
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        note = session.scalars(select(Note)).one()
        note.tenant_id = tree.c2.id
        with pytest.raises(CrossTenantWrite):
            session.flush()
        session.rollback()
    assert bodies(kernel, tree.c1.id) == ["mine"]
    assert bodies(kernel, tree.c2.id) == []


def test_bulk_insert_for_another_tenant_is_refused(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        with pytest.raises(CrossTenantWrite):
            session.execute(insert(Note), [{"id": 1, "body": "ok"}, {"tenant_id": tree.c2.id, "id": 2, "body": "no"}])
        session.rollback()
    assert bodies(kernel, tree.c1.id) == []
    assert bodies(kernel, tree.c2.id) == []


def test_bulk_insert_is_filled_with_the_bound_tenant(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.tenant(tree.c1.id) as session, session.begin():
        session.execute(insert(Note), [{"id": 1, "body": "a"}, {"id": 2, "body": "b"}])
    assert bodies(kernel, tree.c1.id) == ["a", "b"]


def test_platform_session_refuses_tenant_owned_tables(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "c1")
    with kernel.db.platform() as session, pytest.raises(ScopeViolation, match="testnotes_note"):
        session.scalars(select(Note)).all()


def test_subtree_scope_reads_the_subtree_and_writes_nothing(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "c1")
    add_note(kernel, tree.c2.id, 1, "c2")
    add_note(kernel, tree.c3.id, 1, "c3 (other province)")
    province = kernel.tenants.subtree_ids(tree.p1.id)
    with kernel.db.subtree(tree.p1.id, province) as session:
        assert sorted(session.scalars(select(Note.body))) == ["c1", "c2"]
        session.add(Note(tenant_id=tree.c1.id, id=2, body="written through a roll-up"))
        with pytest.raises(ScopeViolation, match="read-only"):
            session.flush()
        session.rollback()
        with pytest.raises(ScopeViolation, match="read-only"):
            session.execute(delete(Note))
    assert bodies(kernel, tree.c1.id) == ["c1"]


def test_core_table_statements_on_tenant_owned_tables_are_refused(kernel: Kernel, tree: Tree) -> None:
    from sqlalchemy import exists

    from nentang.kernel.tenancy.models import Tenant

    add_note(kernel, tree.c1.id, 1, "c1")
    add_note(kernel, tree.c2.id, 1, "c2")
    table = Note.__table__
    with kernel.db.tenant(tree.c2.id) as session:
        for statement in (
            select(table),
            update(table).values(body="defaced"),
            delete(table),
            select(Tenant).where(exists().where(table.c.tenant_id == Tenant.id)),
        ):
            with pytest.raises(ScopeViolation, match="through Core"):
                session.execute(statement)
            session.rollback()
    assert bodies(kernel, tree.c1.id) == ["c1"]
    assert bodies(kernel, tree.c2.id) == ["c2"]


def test_the_guard_cache_tells_a_core_statement_from_its_orm_twin(kernel: Kernel, tree: Tree) -> None:
    """The guard keeps its analysis per statement shape: the Core twin of an allowed ORM statement
    (same SQL, same tables) must still be refused, however often the ORM one ran first."""
    add_note(kernel, tree.c1.id, 1, "c1")
    add_note(kernel, tree.c2.id, 1, "c2")
    table = Note.__table__
    with kernel.db.tenant(tree.c2.id) as session:
        for _ in range(3):
            assert session.scalars(select(Note.body).where(Note.id == 1)).all() == ["c2"]
            with pytest.raises(ScopeViolation, match="through Core"):
                session.execute(select(table.c.body).where(table.c.id == 1))
            session.rollback()


def test_orm_statements_in_every_position_are_filtered(kernel: Kernel, tree: Tree) -> None:
    from sqlalchemy import exists

    from nentang.kernel.tenancy.models import Tenant

    add_note(kernel, tree.c1.id, 1, "c1")
    add_note(kernel, tree.c2.id, 1, "c2")
    with kernel.db.tenant(tree.c2.id) as session:
        assert session.scalar(select(func.count()).select_from(Note)) == 1
        in_subquery = select(Tenant.code).where(Tenant.id.in_(select(Note.tenant_id)))
        assert session.scalars(in_subquery).all() == ["00002"]
        joined = select(Tenant.code).join(Note, Note.tenant_id == Tenant.id)
        assert session.scalars(joined).all() == ["00002"]
        correlated = select(Tenant.code).where(exists().where(Note.tenant_id == Tenant.id))
        assert session.scalars(correlated).all() == ["00002"]
