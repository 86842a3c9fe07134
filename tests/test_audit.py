"""The audit log: append-only, hash-chained per tenant, and verification finds the first broken link."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from nentang.kernel.audit.models import GENESIS_HASH, AuditEntry
from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from tests.conftest import Tree

ACTOR = Actor("user", "42")


def append(kernel: Kernel, tenant_id: int, n: int) -> None:
    for i in range(n):
        with kernel.db.tenant(tenant_id) as session, session.begin():
            kernel.audit.append(session, tenant_id=tenant_id, actor=ACTOR, action="test.act", target=f"t{i}")


def entries(kernel: Kernel, tenant_id: int) -> list[AuditEntry]:
    with kernel.db.tenant(tenant_id) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


@contextmanager
def as_owner_bypassing_append_only(kernel: Kernel) -> Iterator[Connection]:
    """What an attacker with the schema owner's credentials could do: switch the guard off."""
    engine = create_engine(kernel.settings.database_url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE kernel_audit DISABLE TRIGGER kernel_audit_append_only"))
            yield conn
            conn.execute(text("ALTER TABLE kernel_audit ENABLE TRIGGER kernel_audit_append_only"))
        else:
            conn.execute(text("DROP TRIGGER kernel_audit_no_update"))
            conn.execute(text("DROP TRIGGER kernel_audit_no_delete"))
            yield conn
    engine.dispose()


def test_entries_chain_from_genesis(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 3)
    chain = entries(kernel, tree.c1.id)
    # the tree fixture already wrote the tenant's "tenant.create" entry
    assert [e.seq for e in chain] == [1, 2, 3, 4]
    assert chain[0].action == "tenant.create"
    assert chain[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
    assert chain[-1].actor == "user:42"
    [report] = verify_chains(kernel.db, [tree.c1.id])
    assert report.ok and report.checked == 4


def test_chains_are_per_tenant(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 2)
    append(kernel, tree.c2.id, 1)
    assert len(entries(kernel, tree.c1.id)) == 3
    assert len(entries(kernel, tree.c2.id)) == 2
    assert {e.tenant_id for e in entries(kernel, tree.c2.id)} == {tree.c2.id}


def test_the_application_cannot_edit_or_delete_an_entry(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 1)
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        entry.actor = "user:intruder"
        with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
            session.flush()
        session.rollback()
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
            session.execute(text("DELETE FROM kernel_audit"))
        session.rollback()
    assert [e.actor for e in entries(kernel, tree.c1.id)][-1] == "user:42"
    assert all(r.ok for r in verify_chains(kernel.db, [tree.c1.id]))


def test_an_altered_entry_is_named(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 4)
    with as_owner_bypassing_append_only(kernel) as conn:
        conn.execute(
            text("UPDATE kernel_audit SET target = 'forged' WHERE tenant_id = :t AND seq = 3"), {"t": tree.c1.id}
        )
    [report] = verify_chains(kernel.db, [tree.c1.id])
    assert not report.ok
    assert report.broken_seq == 3
    assert report.checked == 2
    assert "altered" in report.reason
    # the other tenants' chains are unaffected
    assert verify_chains(kernel.db, [tree.c2.id])[0].ok


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 3)
    chain = entries(kernel, tree.c1.id)
    with as_owner_bypassing_append_only(kernel) as conn:
        conn.execute(
            text("UPDATE kernel_audit SET hash = :h WHERE tenant_id = :t AND seq = 2"),
            {"h": "f" * 64, "t": tree.c1.id},
        )
    [report] = verify_chains(kernel.db, [tree.c1.id])
    assert report.broken_seq == 2
    assert chain[2].prev_hash != "f" * 64


def test_a_deleted_entry_is_named(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 4)
    with as_owner_bypassing_append_only(kernel) as conn:
        conn.execute(text("DELETE FROM kernel_audit WHERE tenant_id = :t AND seq = 2"), {"t": tree.c1.id})
    [report] = verify_chains(kernel.db, [tree.c1.id])
    assert report.broken_seq == 2
    assert "missing" in report.reason


def test_a_deleted_tail_is_caught_by_the_head(kernel: Kernel, tree: Tree) -> None:
    append(kernel, tree.c1.id, 3)
    with as_owner_bypassing_append_only(kernel) as conn:
        conn.execute(text("DELETE FROM kernel_audit WHERE tenant_id = :t AND seq = 4"), {"t": tree.c1.id})
    [report] = verify_chains(kernel.db, [tree.c1.id])
    assert report.broken_seq == 4
    assert "deleted" in report.reason


def test_a_failed_act_leaves_no_entry(kernel: Kernel, tree: Tree) -> None:
    before = len(entries(kernel, tree.c1.id))
    with kernel.db.tenant(tree.c1.id) as session:
        session.begin()
        kernel.audit.append(session, tenant_id=tree.c1.id, actor=ACTOR, action="test.act", target="x")
        session.rollback()
    assert len(entries(kernel, tree.c1.id)) == before
    append(kernel, tree.c1.id, 1)
    assert verify_chains(kernel.db, [tree.c1.id])[0].ok


@pytest.mark.postgres_only
def test_two_writers_of_one_chain_take_turns(kernel: Kernel, tree: Tree) -> None:
    """The head row's FOR UPDATE lock serialises concurrent appends to one tenant's chain: both
    writers' entries land, in some order, with no gap, no fork and no failed transaction."""
    before = len(entries(kernel, tree.c1.id))
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait(timeout=10)
            for i in range(15):
                with kernel.db.tenant(tree.c1.id) as session, session.begin():
                    target = f"{name}{i}"
                    kernel.audit.append(session, tenant_id=tree.c1.id, actor=ACTOR, action="test.act", target=target)
                    time.sleep(0.002)  # hold the head's lock a moment, so that the other writer waits on it
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    (report,) = verify_chains(kernel.db, [tree.c1.id])
    assert report.ok and report.checked == before + 30
    assert sorted(e.target for e in entries(kernel, tree.c1.id)[before:]) == sorted(
        f"{name}{i}" for name in "ab" for i in range(15)
    )
