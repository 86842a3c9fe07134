"""Concurrent writes wait for each other instead of failing, on both databases.

Every kernel write reads before it writes (the delegation facts, the audit chain's head, a token
before recording its use). On SQLite a deferred transaction that read a snapshot cannot write once
another connection has committed: it failed at once with "database is locked" (seen under load in
bench/graphql_bench.py when four requests recorded a token's use together). Explicit transactions
now begin IMMEDIATE there; PostgreSQL's row locks already make the second writer wait.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, update

from nentang.kernel.data.sqlite_begin import reading_only
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant
from tests.conftest import Tree

PAUSE_S = 0.3


def name_of(kernel: Kernel, tenant_id: int) -> str:
    with kernel.db.platform() as session:
        return str(session.scalar(select(Tenant.name).where(Tenant.id == tenant_id)))


def rename(session: object, tenant_id: int, name: str) -> None:
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=name))  # type: ignore[attr-defined]


def test_a_write_that_read_first_is_not_overtaken_by_another_writer(kernel: Kernel, tree: Tree) -> None:
    tenant_id = tree.c1.id
    first_has_read = threading.Event()
    errors: list[BaseException] = []
    order: list[str] = []

    def first() -> None:
        try:
            with kernel.db.platform() as session, session.begin():
                session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
                first_has_read.set()
                time.sleep(PAUSE_S)  # the second writer tries now; it must wait for this one
                rename(session, tenant_id, "first")
                order.append("first")
        except BaseException as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)

    def second() -> None:
        first_has_read.wait(5)
        try:
            with kernel.db.platform() as session, session.begin():
                rename(session, tenant_id, "second")
                order.append("second")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    if kernel.db.dialect == "sqlite":  # the writer that began first holds the lock until it commits
        assert order == ["first", "second"]
        assert name_of(kernel, tenant_id) == "second"
    else:  # PostgreSQL: the first one only read, so the second may commit first; neither fails
        assert sorted(order) == ["first", "second"]


def test_a_reader_does_not_queue_behind_a_writer(kernel: Kernel, tree: Tree) -> None:
    tenant_id = tree.c1.id
    writing = threading.Event()
    done = threading.Event()

    def writer() -> None:
        with kernel.db.platform() as session, session.begin():
            rename(session, tenant_id, "being renamed")
            writing.set()
            done.wait(5)  # holds its transaction open until the reader has read

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        session = reading_only(kernel.db.platform())
        with session, session.begin():
            seen = session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
        waited = time.monotonic() - started
    finally:
        done.set()
        thread.join(10)
    assert seen == "Phường Một"  # the committed name: the writer's change is not visible yet
    assert waited < 5  # it did not wait for the writer (which holds on until this read is done)
