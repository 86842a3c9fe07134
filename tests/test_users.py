"""Users: creation by an administrator (checked in the write's transaction) or by an operator,
username and password rules, password reset, disable/enable — each audited, bad input changing nothing."""

from __future__ import annotations

import pytest

from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, TenantNotFound, ValidationFailed
from tests.conftest import Tree
from tests.identity_fixtures import (
    OPERATOR,
    PASSWORD,
    actions,
    audit_entries,
    identity_settings,
    make_admin,
    make_user,
    web_sessions,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


def user_count(kernel: Kernel) -> int:
    return len(kernel.users.list(limit=1000))


def test_operator_creates_a_user_and_the_act_is_audited_in_the_home_tenant(kernel: Kernel, tree: Tree) -> None:
    user = kernel.users.create_user_as_operator(
        OPERATOR,
        username="nguyen.van.a",
        display_name="  Nguyễn Văn A ",
        home_tenant_code="00001",
        password=PASSWORD,
        email="a@example.gov.vn",
    )
    assert (user.username, user.display_name, user.home_tenant_id) == ("nguyen.van.a", "Nguyễn Văn A", tree.c1.id)
    assert user.has_password and user.active and user.principal == f"user:{user.id}"
    assert kernel.users.get("nguyen.van.a") == user == kernel.users.get_by_id(user.id)
    action, actor, target, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor, target) == ("user.create", "system:tests-operator", "nguyen.van.a")
    assert detail == {"user_id": user.id, "display_name": "Nguyễn Văn A", "with_password": True}
    assert PASSWORD not in str(audit_entries(kernel, tree.c1.id))


def test_a_user_may_have_no_local_password(kernel: Kernel, tree: Tree) -> None:
    user = make_user(kernel, "oidc.only", "01", password=None)
    assert not user.has_password


@pytest.mark.parametrize(
    "username",
    ["ab", "Alice", "alice smith", "-alice", ".alice", "al!ce", "a" * 65, "nguyễn", ""],
)
def test_bad_usernames_are_refused_and_nothing_is_created(kernel: Kernel, tree: Tree, username: str) -> None:
    before = actions(kernel, tree.p1.id)
    with pytest.raises(ValidationFailed, match="is not valid: 3-64 characters, lower-case") as refused:
        make_user(kernel, username, "01")
    assert refused.value.code == "user.bad_username"
    assert user_count(kernel) == 0
    assert actions(kernel, tree.p1.id) == before


def test_usernames_at_the_edges_of_the_rules_are_accepted(kernel: Kernel, tree: Tree) -> None:
    for name in ("abc", "a" * 64, "x.y_z-0"):
        assert make_user(kernel, name, "01").username == name


def test_duplicate_username_is_a_conflict(kernel: Kernel, tree: Tree) -> None:
    make_user(kernel, "alice", "01")
    before = actions(kernel, tree.p2.id)
    with pytest.raises(Conflict, match="'alice' already exists") as refused:
        make_user(kernel, "alice", "02")
    assert refused.value.code == "user.taken"
    assert actions(kernel, tree.p2.id) == before
    assert user_count(kernel) == 1


def test_password_policy_applies_at_creation(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(ValidationFailed, match="too short"):
        make_user(kernel, "alice", "01", password="short")
    with pytest.raises(ValidationFailed, match="must not be the username"):
        make_user(kernel, "alice.nguyen.1", "01", password="Alice.Nguyen.1")
    assert user_count(kernel) == 0


def test_bad_display_name_email_and_tenant(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(ValidationFailed, match="display name"):
        kernel.users.create_user_as_operator(OPERATOR, username="alice", display_name=" ", home_tenant_code="01")
    with pytest.raises(ValidationFailed, match="e-mail address"):
        kernel.users.create_user_as_operator(
            OPERATOR, username="alice", display_name="Alice", home_tenant_code="01", email="not-an-address"
        )
    with pytest.raises(TenantNotFound):
        kernel.users.create_user_as_operator(OPERATOR, username="alice", display_name="Alice", home_tenant_code="99")
    assert user_count(kernel) == 0


def test_an_administrator_creates_users_only_inside_its_subtree(kernel: Kernel, tree: Tree) -> None:
    admin = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    user = kernel.users.create_user(admin.actor, username="officer1", display_name="Officer", home_tenant_code="00001")
    assert user.home_tenant_id == tree.c1.id
    assert audit_entries(kernel, tree.c1.id)[-1][:3] == ("user.create", admin.principal, "officer1")

    before = (user_count(kernel), actions(kernel, tree.p2.id), actions(kernel, tree.central.id))
    for outside in ("02", "00003", "TW"):
        with pytest.raises(PermissionDenied) as refused:
            kernel.users.create_user(admin.actor, username="officer2", display_name="Officer", home_tenant_code=outside)
        assert refused.value.code == "permission.denied"
    assert (user_count(kernel), actions(kernel, tree.p2.id), actions(kernel, tree.central.id)) == before


def test_a_user_without_users_manage_cannot_create_users(kernel: Kernel, tree: Tree) -> None:
    viewer = make_admin(kernel, "viewer", "01", tree.p1.id, role="auditor")
    with pytest.raises(PermissionDenied, match=r"kernel\.users\.manage"):
        kernel.users.create_user(viewer.actor, username="officer", display_name="Officer", home_tenant_code="01")
    assert [u.username for u in kernel.users.list()] == ["viewer"]


def test_operator_paths_refuse_users_and_tokens(kernel: Kernel, tree: Tree) -> None:
    for actor in (Actor("user", "1"), Actor("token", "1")):
        with pytest.raises(PermissionDenied) as refused:
            kernel.users.create_user_as_operator(actor, username="sneaky", display_name="S", home_tenant_code="TW")
        assert refused.value.code == "permission.operator_only"
    assert user_count(kernel) == 0
    kernel.users.create_user_as_operator(Actor.command_line(), username="ops", display_name="O", home_tenant_code="TW")


def test_set_password_replaces_the_old_one_and_ends_sessions(kernel: Kernel, tree: Tree) -> None:
    admin = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    user = make_user(kernel, "officer", "00001")
    opened = kernel.sessions.create(user.id)
    kernel.users.set_password(admin.actor, "officer", "a brand new passphrase")
    assert kernel.sessions.resolve(opened.cookie_value) is None
    with pytest.raises(PermissionDenied):
        kernel.login.authenticate("officer", PASSWORD)
    assert kernel.login.authenticate("officer", "a brand new passphrase").id == user.id
    _, actor, target, detail = next(e for e in audit_entries(kernel, tree.c1.id) if e[0] == "user.set_password")
    assert (actor, target, detail) == (admin.principal, "officer", {"user_id": user.id, "sessions_revoked": 1})


def test_set_password_is_checked_and_follows_the_policy(kernel: Kernel, tree: Tree) -> None:
    outsider = make_admin(kernel, "admin.tq", "02", tree.p2.id)
    make_user(kernel, "officer", "00001")
    with pytest.raises(PermissionDenied):
        kernel.users.set_password(outsider.actor, "officer", "a brand new passphrase")
    with pytest.raises(ValidationFailed, match="too short"):
        kernel.users.set_password_as_operator(OPERATOR, "officer", "short")
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        kernel.users.set_password_as_operator(OPERATOR, "ghost", "a brand new passphrase")
    assert kernel.login.authenticate("officer", PASSWORD).username == "officer"


def test_disable_revokes_every_web_session_and_enable_restores_login(kernel: Kernel, tree: Tree) -> None:
    admin = make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    user = make_user(kernel, "officer", "00001")
    first, second = kernel.sessions.create(user.id), kernel.sessions.create(user.id)
    disabled = kernel.users.disable(admin.actor, "officer", reason="left the office")
    assert disabled.status == "disabled" and not disabled.active
    assert all(s.revoked_at is not None for s in web_sessions(kernel, user.id))
    assert kernel.sessions.resolve(first.cookie_value) is None
    assert kernel.sessions.resolve(second.cookie_value) is None
    action, actor, _, detail = audit_entries(kernel, tree.c1.id)[-1]
    assert (action, actor) == ("user.disable", admin.principal)
    assert detail == {"user_id": user.id, "sessions_revoked": 2, "reason": "left the office"}

    with pytest.raises(Conflict, match="already disabled"):
        kernel.users.disable(admin.actor, "officer")
    kernel.users.enable(admin.actor, "officer")
    assert kernel.login.authenticate("officer", PASSWORD).active


def test_disable_is_checked_in_the_home_tenant(kernel: Kernel, tree: Tree) -> None:
    outsider = make_admin(kernel, "admin.tq", "02", tree.p2.id)
    user = make_user(kernel, "officer", "00001")
    opened = kernel.sessions.create(user.id)
    with pytest.raises(PermissionDenied):
        kernel.users.disable(outsider.actor, "officer")
    assert kernel.users.get("officer").active
    assert kernel.sessions.resolve(opened.cookie_value) is not None


def test_get_and_list(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(NotFound) as missing:
        kernel.users.get("ghost")
    assert missing.value.code == "user.not_found"
    for name, home in (("bob", "01"), ("alice", "01"), ("carol", "02")):
        make_user(kernel, name, home)
    assert [u.username for u in kernel.users.list()] == ["alice", "bob", "carol"]
    assert [u.username for u in kernel.users.list(home_tenant_code="01")] == ["alice", "bob"]
    assert [u.username for u in kernel.users.list(after="alice", limit=1)] == ["bob"]
    with pytest.raises(ValidationFailed, match="limit"):
        kernel.users.list(limit=0)


def test_list_a_subtree(kernel: Kernel, tree: Tree) -> None:
    for name, home in (("dan", "00001"), ("bob", "01"), ("eve", "00002"), ("carol", "02"), ("fay", "00003")):
        make_user(kernel, name, home)
    below = kernel.users.list(home_tenant_code="01", subtree=True)
    assert [u.username for u in below] == ["bob", "dan", "eve"]  # the province's own, then its communes'
    assert [u.username for u in kernel.users.list(home_tenant_code="00001", subtree=True)] == ["dan"]
    assert len(kernel.users.list(home_tenant_code="TW", subtree=True)) == 5
    assert [u.username for u in kernel.users.list(home_tenant_code="01", subtree=True, after="bob", limit=1)] == ["dan"]
