"""Changes made by one worker reach another worker's caches without a restart.

Two kernels on one database stand for two worker processes. The second one is started (its
watcher thread runs: LISTEN/NOTIFY on PostgreSQL, the version poll on both databases) and we
wait — with a deadline, not a timing assertion; the benchmark measures the latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from nentang.kernel.authz.permissions import AUDIT_READ, TENANTS_READ
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied
from tests.authz_helpers import OPERATOR, bootstrap_admin, make_user
from tests.conftest import Tree

DEADLINE_S = 10.0


@pytest.fixture
def second_worker(settings: Settings, kernel: Kernel) -> Iterator[Kernel]:
    other = create_kernel(settings)
    other.start()
    try:
        yield other
    finally:
        other.close()


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_grant_on_one_worker_reaches_the_other(kernel: Kernel, second_worker: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.c1.id)
    assert not second_worker.authz.check(str(officer), tree.c1.id, TENANTS_READ)  # cached: no grants
    bootstrap_admin(kernel, officer, tree.c1.id, role="viewer")
    assert kernel.authz.check(str(officer), tree.c1.id, TENANTS_READ)  # the writer sees it at once
    assert eventually(lambda: second_worker.authz.check(str(officer), tree.c1.id, TENANTS_READ))


def test_a_revoke_and_a_role_edit_reach_the_other_worker(kernel: Kernel, second_worker: Kernel, tree: Tree) -> None:
    admin = make_user(kernel, "admin", tree.central.id)
    bootstrap_admin(kernel, admin, tree.central.id)
    clerk = make_user(kernel, "clerk", tree.c1.id)
    with kernel.db.platform() as session, session.begin():
        role = kernel.authz.create_role(
            session, actor=admin, tenant_id=tree.p1.id, name="clerk", permissions=[TENANTS_READ]
        )
        grant = kernel.authz.grant(session, actor=admin, principal=str(clerk), role="clerk", tenant_id=tree.c1.id)
    assert eventually(lambda: second_worker.authz.check(str(clerk), tree.c1.id, TENANTS_READ))
    assert not second_worker.authz.check(str(clerk), tree.c1.id, AUDIT_READ)
    with kernel.db.platform() as session, session.begin():
        kernel.authz.update_role(session, actor=admin, role_id=role.id, permissions=[TENANTS_READ, AUDIT_READ])
    assert eventually(lambda: second_worker.authz.check(str(clerk), tree.c1.id, AUDIT_READ))
    with kernel.db.platform() as session, session.begin():
        kernel.authz.revoke(session, actor=admin, grant_id=grant.id)
    assert eventually(lambda: not second_worker.authz.check(str(clerk), tree.c1.id, TENANTS_READ))


def test_a_deleted_role_leaves_the_other_workers_model(kernel: Kernel, second_worker: Kernel, tree: Tree) -> None:
    admin = make_user(kernel, "admin", tree.central.id)
    bootstrap_admin(kernel, admin, tree.central.id)
    with kernel.db.platform() as session, session.begin():
        role = kernel.authz.create_role(
            session, actor=admin, tenant_id=tree.p1.id, name="clerk", permissions=[TENANTS_READ]
        )
    role_id = role.id or 0
    assert eventually(lambda: second_worker.authz.model.allows(role_id, TENANTS_READ))
    with kernel.db.platform() as session, session.begin():
        kernel.authz.delete_role(session, actor=admin, role_id=role_id)
    assert not kernel.authz.model.allows(role_id, TENANTS_READ)  # the writer forgets it at once
    assert eventually(lambda: not second_worker.authz.model.allows(role_id, TENANTS_READ))


def test_a_tenant_created_elsewhere_is_known_at_once(kernel: Kernel, second_worker: Kernel, tree: Tree) -> None:
    unit = kernel.tenants.create(code="U1", name="Unit", kind="unit", parent_code="00001", actor=OPERATOR)
    officer = make_user(kernel, "officer", tree.c1.id)
    bootstrap_admin(kernel, officer, tree.c1.id, role="viewer")
    assert eventually(lambda: second_worker.authz.check(str(officer), unit.id, TENANTS_READ))


def test_a_move_reaches_the_other_workers_paths(kernel: Kernel, second_worker: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.p1.id)
    bootstrap_admin(kernel, officer, tree.p1.id, role="viewer")
    assert eventually(lambda: second_worker.authz.check(str(officer), tree.c3.id, TENANTS_READ) is False)
    kernel.tenants.move("00003", "01", actor=OPERATOR)
    assert eventually(lambda: second_worker.authz.check(str(officer), tree.c3.id, TENANTS_READ))


def test_a_token_revoked_on_one_worker_is_refused_by_the_other(
    kernel: Kernel, second_worker: Kernel, tree: Tree
) -> None:
    created = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="00001", name="lgsp", roles=["viewer"], expires_in_days=30
    )
    second_worker.tokens.authenticate(created.plaintext)  # the other worker now remembers it
    assert second_worker.tokens.authenticate_known(created.plaintext) is not None
    kernel.tokens.revoke_as_operator(OPERATOR, created.token.id)
    assert eventually(lambda: second_worker.tokens.authenticate_known(created.plaintext) is None)
    with pytest.raises(PermissionDenied) as refused:
        second_worker.tokens.authenticate(created.plaintext)
    assert refused.value.code == "auth.token_revoked"


def test_a_suspension_on_one_worker_reaches_the_others_serving_answer(
    kernel: Kernel, second_worker: Kernel, tree: Tree
) -> None:
    assert second_worker.serving.get(tree.c1.id)[1]  # remembered: serving
    kernel.tenants.suspend("01", actor=OPERATOR, reason="inspection")  # the commune's province
    assert not kernel.serving.get(tree.c1.id)[1]  # the writer knows at once
    assert eventually(lambda: second_worker.serving.known(tree.c1.id) is None)
    assert not second_worker.serving.get(tree.c1.id)[1]
    kernel.tenants.reactivate("01", actor=OPERATOR)
    assert eventually(lambda: second_worker.serving.known(tree.c1.id) is None)
    assert second_worker.serving.get(tree.c1.id)[1]
