"""Inline reads on the embedded database: one kept connection per thread, lent to reading-only
tenant sessions that begin and end their own transactions (``kernel/data/inline_reads.py``)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from nentang.kernel.runtime import Kernel
from tests.conftest import ON_POSTGRES, Tree
from tests.fixtures.notes_plugin.models import Note

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="inline reads are the embedded database's")


def add_note(kernel: Kernel, tenant_id: int, note_id: int, body: str) -> None:
    with kernel.db.tenant(tenant_id) as session, session.begin():
        session.add(Note(id=note_id, body=body))


def inline_bodies(kernel: Kernel, tenant_id: int) -> list[str]:
    with kernel.db.inline_read(tenant_id) as session, session.begin():
        return list(session.scalars(select(Note.body).order_by(Note.id)))


@sqlite_only
def test_an_inline_read_sees_its_tenants_rows_only(kernel: Kernel, tree: Tree) -> None:
    add_note(kernel, tree.c1.id, 1, "xã một")
    add_note(kernel, tree.c2.id, 1, "xã hai")
    assert inline_bodies(kernel, tree.c1.id) == ["xã một"]
    assert inline_bodies(kernel, tree.c2.id) == ["xã hai"]
    assert inline_bodies(kernel, tree.c3.id) == []


@sqlite_only
def test_inline_reads_share_a_connection_per_thread_and_each_reads_a_fresh_snapshot(kernel: Kernel, tree: Tree):
    with kernel.db.inline_read(tree.c1.id) as first, first.begin():
        first_connection = first.connection().connection.dbapi_connection
    add_note(kernel, tree.c1.id, 1, "sau lần đọc đầu")  # committed between two inline reads
    with kernel.db.inline_read(tree.c1.id) as second, second.begin():
        assert second.connection().connection.dbapi_connection is first_connection
        assert list(second.scalars(select(Note.body))) == ["sau lần đọc đầu"]

    others: list[object] = []

    def read_elsewhere() -> None:
        with kernel.db.inline_read(tree.c1.id) as session, session.begin():
            others.append(session.connection().connection.dbapi_connection)

    thread = threading.Thread(target=read_elsewhere)
    thread.start()
    thread.join(10)
    assert len(others) == 1 and others[0] is not first_connection


@sqlite_only
def test_a_session_that_never_ended_its_transaction_does_not_leak_into_the_next(kernel: Kernel, tree: Tree) -> None:
    abandoned = kernel.db.inline_read(tree.c1.id)
    abandoned.begin()
    assert abandoned.scalars(select(Note.body)).all() == []  # the snapshot is taken here
    add_note(kernel, tree.c1.id, 1, "ghi sau")
    # Joined to the abandoned transaction, the next read would see the old snapshot, never committing.
    assert inline_bodies(kernel, tree.c1.id) == ["ghi sau"]


@sqlite_only
def test_closing_the_database_closes_every_kept_connection(kernel: Kernel, tree: Tree) -> None:
    with kernel.db.inline_read(tree.c1.id) as session, session.begin():
        kept = session.connection()
    kernel.db.dispose()
    assert kept.closed


@pytest.mark.postgres_only
def test_inline_reads_are_refused_where_a_read_goes_over_the_network(kernel: Kernel, tree: Tree) -> None:
    assert not kernel.db.reads_in_process
    with pytest.raises(RuntimeError, match="embedded database"):
        kernel.db.inline_read(tree.c1.id)
