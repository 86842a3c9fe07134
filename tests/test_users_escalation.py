"""Managing a user needs kernel.users.manage at every tenant where the user holds a role, not only
at its home: a commune administrator must not take over a central administrator homed at its commune."""

from __future__ import annotations

import pytest

from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied
from tests.conftest import Tree
from tests.identity_fixtures import PASSWORD, actions, audit_entries, grant, identity_settings, make_admin


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


def test_a_commune_admin_cannot_reset_a_central_admins_password(kernel: Kernel, tree: Tree) -> None:
    commune_admin = make_admin(kernel, "admin.commune", "00001", tree.c1.id)
    central = make_admin(kernel, "root.admin", "00001", tree.central.id)  # homed at the commune
    opened = kernel.sessions.create(central.id)
    with pytest.raises(PermissionDenied) as refused:
        kernel.users.set_password(commune_admin.actor, "root.admin", "a brand new passphrase")
    assert refused.value.code == "permission.denied"
    assert "'00001'" in refused.value.message and f"tenant {tree.central.id}" not in refused.value.message
    assert kernel.login.authenticate("root.admin", PASSWORD).id == central.id  # nothing changed
    assert kernel.sessions.resolve(opened.cookie_value) is not None
    for tenant_id in (tree.c1.id, tree.central.id):
        refusals = [e for e in audit_entries(kernel, tenant_id) if e[0] == "user.refused"]
        assert [(e[1], e[2], e[3]["attempted"]) for e in refusals] == [
            (commune_admin.principal, "root.admin", "user.set_password")
        ]
    assert "user.set_password" not in actions(kernel, tree.c1.id)


def test_disable_and_oidc_link_are_refused_too(kernel: Kernel, tree: Tree) -> None:
    commune_admin = make_admin(kernel, "admin.commune", "00001", tree.c1.id)
    make_admin(kernel, "root.admin", "00001", tree.central.id)
    with pytest.raises(PermissionDenied):
        kernel.users.disable(commune_admin.actor, "root.admin")
    with pytest.raises(PermissionDenied):
        kernel.users.link_oidc(commune_admin.actor, "root.admin", issuer="https://idp.example", subject="me")
    target = kernel.users.get("root.admin")
    assert target.active and target.oidc_issuer is None
    refused = [e[3]["attempted"] for e in audit_entries(kernel, tree.central.id) if e[0] == "user.refused"]
    assert refused == ["user.disable", "user.link_oidc"]


def test_a_grant_at_a_sibling_province_needs_authority_there(kernel: Kernel, tree: Tree) -> None:
    province_admin = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    officer = make_admin(kernel, "officer", "00001", tree.c1.id, role="auditor")
    grant(kernel, officer, "auditor", tree.p2.id)
    with pytest.raises(PermissionDenied):
        kernel.users.disable(province_admin.actor, "officer")
    assert kernel.users.get("officer").active
    assert [e[0] for e in audit_entries(kernel, tree.p2.id)][-1] == "user.refused"
    # A central administrator covers both provinces: the same act is then allowed.
    central = make_admin(kernel, "root.admin", "TW", tree.central.id)
    assert not kernel.users.disable(central.actor, "officer").active


def test_repeated_refusals_are_throttled(kernel: Kernel, tree: Tree) -> None:
    commune_admin = make_admin(kernel, "admin.commune", "00001", tree.c1.id)
    make_admin(kernel, "root.admin", "00001", tree.central.id)
    for _ in range(5):
        with pytest.raises(PermissionDenied):
            kernel.users.disable(commune_admin.actor, "root.admin")
    assert actions(kernel, tree.central.id).count("user.refused") == 1
