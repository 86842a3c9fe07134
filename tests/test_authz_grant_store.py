"""The grant store: every principal's grants in a compact table, patched on change, rebuilt on a flush.

A check answers from the table; what must never happen is an answer the database no longer gives:
a revoke not seen at once in the worker that made it, a change lost because it raced with a read
or with a rebuild, another tenant's (or another principal's) grant matching.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from nentang.kernel.authz.cache import GrantReader
from nentang.kernel.authz.grant_store import GrantStore
from nentang.kernel.authz.grant_table import GrantList, GrantTable, array_slot
from nentang.kernel.authz.models import Grant
from nentang.kernel.authz.permissions import AUDIT_READ, TENANTS_READ
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from tests.authz_helpers import bootstrap_admin, make_user
from tests.conftest import Tree


@pytest.fixture(autouse=True)
def deaf(kernel: Kernel) -> None:
    """No watcher thread: a poll racing with this worker's own commit may flush the table at any
    moment (harmless: checks then read through), which would blur what each test looks at. This
    worker's own changes still reach it at commit, which is what is tested here."""
    kernel.watcher.stop()


def revoke_all(kernel: Kernel, principal: Actor) -> None:
    with kernel.db.platform() as session, session.begin():
        kernel.authz.revoke_all_for(session, actor=Actor.system("test"), principal=str(principal))


class InterleavedReader:
    """The kernel's own reader, with a real change made by ``during`` in the middle of a read."""

    def __init__(self, reader: GrantReader) -> None:
        self._reader = reader
        self.during_all: Callable[[], None] | None = None
        self.during_one: Callable[[], None] | None = None

    def grants_of(self, principal: str) -> GrantList:
        grants = self._reader.grants_of(principal)
        if self.during_one is not None:
            during, self.during_one = self.during_one, None
            during()  # committed after the read: the answer in hand is already stale
        return grants

    def all_grants(self) -> Iterator[tuple[str, int, int]]:
        for k, row in enumerate(self._reader.all_grants()):
            if k == 0 and self.during_all is not None:
                during, self.during_all = self.during_all, None
                during()
            yield row

    def close(self) -> None:
        self._reader.close()


def interleaved_store(kernel: Kernel, **options: int) -> tuple[GrantStore, InterleavedReader]:
    """A store on the kernel's engine, put in the authoriser's place (its notifications reach it)."""
    reader = InterleavedReader(GrantReader(kernel.db.app_engine))
    store = GrantStore(reader, **options)  # type: ignore[arg-type]  # the same three methods
    kernel.authz.grants.close()
    kernel.authz.grants = store
    store.load()
    return store, reader


# -- the table on its own ---------------------------------------------------------------------


def test_the_table_answers_each_spelling_of_a_principal_as_its_own() -> None:
    rows = [
        ("user:7", 3, 10),
        ("user:7", 4, 11),
        ("user:007", 5, 12),
        ("token:7", 6, 13),
        ("oidc:someone", 8, 14),
        ("user:999999999", 9, 15),  # far past the others: beside the arrays, not a 4 GB array
    ]
    table = GrantTable.build(rows)
    assert table.lookup("user:7") == ((3, 10), (4, 11))
    assert table.lookup("user:007") == ((5, 12),)
    assert table.lookup("token:7") == ((6, 13),)
    assert table.lookup("oidc:someone") == ((8, 14),)
    assert table.lookup("user:999999999") == ((9, 15),)
    # no grant at build: not answered from the table (read on the first check), for every spelling
    for unknown in ("user:8", "token:1", "user:+7", "user:-7", "user:", "user:7 ", "user:٧", "nobody"):
        assert table.lookup(unknown) is None, unknown
    assert table.principals() == 5 and table.rows == 6
    assert array_slot("user:12") == (0, 12) and array_slot("token:3") == (1, 3)
    assert array_slot("user:012") is None and array_slot("user:1234567890") is None


def test_a_stale_principal_is_read_again_and_stored_back() -> None:
    table = GrantTable.build([("user:1", 1, 2), ("user:2", 1, 2), ("x:y", 1, 2)])
    for principal in ("user:1", "x:y", "user:50"):
        table.mark_stale(principal)
        assert table.lookup(principal) is None
        table.store(principal, ((4, 5), (3, 6), (4, 5)))
        assert table.lookup(principal) == ((3, 6), (4, 5))
        table.store(principal, ())
        assert table.lookup(principal) == ()  # read: none held (kept, not read again)
    assert table.lookup("user:2") == ((1, 2),)  # sharing an interned list: untouched by the others


# -- in the kernel: changes visible at once, never lost ---------------------------------------


def test_revoke_is_visible_at_once_in_this_worker(kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.c1.id)
    bootstrap_admin(kernel, officer, tree.c1.id, role="auditor")
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)  # now held in the table
    assert kernel.authz.grants.table is not None
    revoke_all(kernel, officer)
    assert not kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)  # no poll, no notification
    bootstrap_admin(kernel, officer, tree.c1.id, role="auditor")
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)


def test_another_tenants_grant_never_matches(kernel: Kernel, tree: Tree) -> None:
    here = make_user(kernel, "here", tree.c1.id)
    there = make_user(kernel, "there", tree.c3.id)
    bootstrap_admin(kernel, here, tree.c1.id, role="auditor")
    bootstrap_admin(kernel, there, tree.p2.id, role="auditor")
    kernel.authz.grants.load()  # both now come from a build, not from a read of one principal
    assert kernel.authz.check(str(here), tree.c1.id, AUDIT_READ)
    for tenant in (tree.c2, tree.c3, tree.p1, tree.p2, tree.central):
        assert not kernel.authz.check(str(here), tenant.id, AUDIT_READ), tenant.code
    assert kernel.authz.check(str(there), tree.c3.id, AUDIT_READ)
    for tenant in (tree.c1, tree.c2, tree.p1, tree.central):
        assert not kernel.authz.check(str(there), tenant.id, AUDIT_READ), tenant.code
    # the interned grant list of one principal is not another's
    assert kernel.authz.grants.get(str(here)) != kernel.authz.grants.get(str(there))


def test_a_change_made_while_a_principal_is_read_is_not_stored(kernel: Kernel, tree: Tree) -> None:
    _, reader = interleaved_store(kernel)
    officer = make_user(kernel, "officer", tree.c1.id)
    bootstrap_admin(kernel, officer, tree.c1.id, role="auditor")
    reader.during_one = lambda: revoke_all(kernel, officer)
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)  # the read before the revoke
    assert not kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)  # not kept: read again


def test_a_change_made_while_the_table_is_rebuilt_is_not_lost(kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.c1.id)
    newcomer = make_user(kernel, "newcomer", tree.c2.id)
    bootstrap_admin(kernel, officer, tree.c1.id, role="auditor")
    store, reader = interleaved_store(kernel)
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)

    def change() -> None:  # committed after the rebuild's read began
        revoke_all(kernel, officer)
        bootstrap_admin(kernel, newcomer, tree.c2.id, role="viewer")

    reader.during_all = change
    store.evict(None)
    assert store.table is not None
    assert not kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)
    assert kernel.authz.check(str(newcomer), tree.c2.id, TENANTS_READ)


def test_a_large_table_is_rebuilt_in_the_background_and_answers_meanwhile(kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.c1.id)
    bootstrap_admin(kernel, officer, tree.c1.id, role="auditor")
    store, reader = interleaved_store(kernel, inline_rebuild_rows=0)
    meanwhile: list[bool] = []
    reader.during_all = lambda: meanwhile.append(kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ))
    store.evict(None)
    deadline = time.monotonic() + 10
    while store.table is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.table is not None, "the background rebuild did not finish"
    assert meanwhile == [True]  # answered from the database while there was no table
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)
    revoke_all(kernel, officer)
    assert not kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)


def test_a_principal_made_elsewhere_is_read_on_its_first_check(kernel: Kernel, tree: Tree) -> None:
    """Another worker's grant to a new principal: this worker has not heard of it, and still answers it."""
    officer = make_user(kernel, "officer", tree.c1.id)
    with kernel.db.owner_engine.begin() as connection:  # behind the kernel's back: no bump, no notification
        role = connection.exec_driver_sql("SELECT id FROM kernel_role WHERE name = 'auditor'").scalar()
        connection.execute(
            Grant.__table__.insert(),
            {
                "principal": str(officer),
                "role_id": role,
                "tenant_id": tree.c1.id,
                "granted_by": "elsewhere",
                "granted_at": datetime.now(UTC),
            },
        )
    assert kernel.authz.check(str(officer), tree.c1.id, AUDIT_READ)


@pytest.mark.parametrize("principal", ["user:0", "user:012", "token:", "nobody"])
def test_odd_principals_hold_nothing_and_break_nothing(kernel: Kernel, tree: Tree, principal: str) -> None:
    assert kernel.authz.grants.get(principal) == ()
    assert not kernel.authz.check(principal, tree.c1.id, TENANTS_READ)
