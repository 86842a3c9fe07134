"""Authorisation over the tenant tree: deny by default, grants flow down, delegation never escalates."""

from __future__ import annotations

import pytest

from nentang.kernel.authz.permissions import (
    AUDIT_READ,
    GRANTS_MANAGE,
    TENANTS_CREATE,
    TENANTS_READ,
    USERS_MANAGE,
    PermissionSpec,
)
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.authz_helpers import OPERATOR, audit_actions, bootstrap_admin, grant_count, make_user
from tests.conftest import Tree


@pytest.fixture
def central_admin(kernel: Kernel, tree: Tree) -> Actor:
    admin = make_user(kernel, "central.admin", tree.central.id)
    bootstrap_admin(kernel, admin, tree.central.id)
    return admin


def grant(kernel: Kernel, actor: Actor, principal: Actor, role: str, tenant_id: int) -> None:
    with kernel.db.platform() as session, session.begin():
        kernel.authz.grant(session, actor=actor, principal=str(principal), role=role, tenant_id=tenant_id)


def create_role(kernel: Kernel, actor: Actor, tenant_id: int, name: str, perms: list[str]) -> int:
    with kernel.db.platform() as session, session.begin():
        return kernel.authz.create_role(session, actor=actor, tenant_id=tenant_id, name=name, permissions=perms).id


def test_nobody_may_do_anything_by_default(kernel: Kernel, tree: Tree) -> None:
    someone = make_user(kernel, "someone", tree.c1.id)
    for tenant in (tree.central, tree.p1, tree.c1):
        assert not kernel.authz.check(str(someone), tenant.id, TENANTS_READ)
    with pytest.raises(PermissionDenied) as denied:
        kernel.authz.require(str(someone), tree.c1.id, TENANTS_READ)
    assert denied.value.code == "permission.denied"
    assert not kernel.authz.check(str(someone), 999_999, TENANTS_READ)


def test_a_grant_applies_at_its_tenant_and_below_only(kernel: Kernel, tree: Tree) -> None:
    officer = make_user(kernel, "officer", tree.p1.id)
    bootstrap_admin(kernel, officer, tree.p1.id, role="viewer")
    assert kernel.authz.check(str(officer), tree.p1.id, TENANTS_READ)
    assert kernel.authz.check(str(officer), tree.c1.id, TENANTS_READ)
    assert kernel.authz.check(str(officer), tree.c2.id, TENANTS_READ)
    assert not kernel.authz.check(str(officer), tree.central.id, TENANTS_READ)
    assert not kernel.authz.check(str(officer), tree.p2.id, TENANTS_READ)
    assert not kernel.authz.check(str(officer), tree.c3.id, TENANTS_READ)
    assert not kernel.authz.check(str(officer), tree.p1.id, USERS_MANAGE)


def test_delegation_down_the_tree(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    province_admin = make_user(kernel, "province.admin", tree.p1.id)
    clerk = make_user(kernel, "clerk", tree.c1.id)
    grant(kernel, central_admin, province_admin, "admin", tree.p1.id)
    create_role(kernel, province_admin, tree.p1.id, "clerk", [TENANTS_READ, AUDIT_READ])
    grant(kernel, province_admin, clerk, "clerk", tree.c1.id)
    assert kernel.authz.check(str(clerk), tree.c1.id, AUDIT_READ)
    assert not kernel.authz.check(str(clerk), tree.c2.id, AUDIT_READ)
    assert not kernel.authz.check(str(clerk), tree.c1.id, GRANTS_MANAGE)
    assert "grant.create" in audit_actions(kernel, tree.c1.id)
    assert "role.create" in audit_actions(kernel, tree.p1.id)


def test_an_administrator_cannot_act_above_or_beside_its_subtree(
    kernel: Kernel, tree: Tree, central_admin: Actor
) -> None:
    province_admin = make_user(kernel, "province.admin", tree.p1.id)
    someone = make_user(kernel, "someone", tree.p2.id)
    grant(kernel, central_admin, province_admin, "admin", tree.p1.id)
    before = grant_count(kernel)
    for tenant in (tree.p2, tree.c3, tree.central):
        with pytest.raises(PermissionDenied) as denied:
            grant(kernel, province_admin, someone, "viewer", tenant.id)
        assert denied.value.code == "permission.denied"
    with pytest.raises(PermissionDenied):
        create_role(kernel, province_admin, tree.p2.id, "beside", [TENANTS_READ])
    assert grant_count(kernel) == before
    # each refusal is a security event in the log of the tenant it targeted
    assert audit_actions(kernel, tree.p2.id).count("authz.refused") == 2
    assert "authz.refused" in audit_actions(kernel, tree.central.id)


def test_no_one_hands_out_what_they_do_not_hold(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    with kernel.db.platform() as session, session.begin():
        kernel.authz.sync_declarations(
            session, declared_by="forms", permissions=[PermissionSpec("forms.submit", "Submit an eForm")], templates=[]
        )
    province_admin = make_user(kernel, "province.admin", tree.p1.id)
    grant(kernel, central_admin, province_admin, "admin", tree.p1.id)
    with pytest.raises(PermissionDenied) as denied:
        create_role(kernel, province_admin, tree.p1.id, "submitter", [TENANTS_READ, "forms.submit"])
    assert denied.value.code == "authz.escalation"
    assert "forms.submit" in denied.value.message
    limited = make_user(kernel, "limited.admin", tree.p1.id)
    create_role(kernel, province_admin, tree.p1.id, "granter", [GRANTS_MANAGE, TENANTS_READ])
    grant(kernel, province_admin, limited, "granter", tree.p1.id)
    target = make_user(kernel, "target", tree.c1.id)
    with pytest.raises(PermissionDenied) as denied:
        grant(kernel, limited, target, "admin", tree.c1.id)
    assert denied.value.code == "authz.escalation"
    with pytest.raises(PermissionDenied):  # nor to itself
        grant(kernel, limited, limited, "admin", tree.p1.id)
    assert not kernel.authz.check(str(limited), tree.p1.id, USERS_MANAGE)
    assert not kernel.authz.check(str(target), tree.c1.id, TENANTS_READ)


def test_editing_a_role_is_held_to_the_same_rule(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    province_admin = make_user(kernel, "province.admin", tree.p1.id)
    clerk = make_user(kernel, "clerk", tree.c1.id)
    grant(kernel, central_admin, province_admin, "viewer", tree.p1.id)
    role_id = create_role(kernel, central_admin, tree.p1.id, "clerk", [TENANTS_READ])
    grant(kernel, central_admin, clerk, "clerk", tree.c1.id)
    with kernel.db.platform() as session, session.begin(), pytest.raises(PermissionDenied):
        kernel.authz.update_role(session, actor=province_admin, role_id=role_id, permissions=[TENANTS_READ, AUDIT_READ])
    assert not kernel.authz.check(str(clerk), tree.c1.id, AUDIT_READ)
    with kernel.db.platform() as session, session.begin():
        kernel.authz.update_role(session, actor=central_admin, role_id=role_id, permissions=[TENANTS_READ, AUDIT_READ])
    kernel.watcher.poll_now()
    assert kernel.authz.check(str(clerk), tree.c1.id, AUDIT_READ)


def test_templates_cannot_be_edited_by_administrators(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    from sqlalchemy import select

    from nentang.kernel.authz.models import Role

    with kernel.db.platform() as session:
        viewer_id = session.scalar(select(Role.id).where(Role.name == "viewer", Role.tenant_id.is_(None)))
    with kernel.db.platform() as session, session.begin(), pytest.raises(PermissionDenied) as denied:
        kernel.authz.update_role(session, actor=central_admin, role_id=viewer_id, permissions=[TENANTS_CREATE])
    assert denied.value.code == "authz.template_read_only"


@pytest.mark.parametrize(
    ("role", "perms", "code"),
    [
        ("no-such-role", None, "authz.unknown_role"),
        (None, ["kernel.no_such_permission"], "authz.unknown_permission"),
        (None, [], "validation.failed"),
        ("Bad Name", [TENANTS_READ], "validation.failed"),
    ],
)
def test_unknown_roles_and_permissions_are_refused(
    kernel: Kernel, tree: Tree, central_admin: Actor, role: str | None, perms: list[str] | None, code: str
) -> None:
    someone = make_user(kernel, "someone", tree.c1.id)
    before = grant_count(kernel)
    with pytest.raises(ValidationFailed) as refused:
        if perms is None:
            grant(kernel, central_admin, someone, role or "", tree.c1.id)
        else:
            create_role(kernel, central_admin, tree.p1.id, role or "newrole", perms)
    assert refused.value.code == code
    assert grant_count(kernel) == before


def test_granting_to_a_principal_that_does_not_exist_is_refused(
    kernel: Kernel, tree: Tree, central_admin: Actor
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        grant(kernel, central_admin, Actor("user", "424242"), "viewer", tree.c1.id)
    assert refused.value.code == "authz.unknown_principal"
    with pytest.raises(ValidationFailed):
        grant(kernel, central_admin, Actor("user", "not-a-number"), "viewer", tree.c1.id)


def test_a_duplicate_grant_is_a_conflict(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    someone = make_user(kernel, "someone", tree.c1.id)
    grant(kernel, central_admin, someone, "viewer", tree.c1.id)
    with pytest.raises(Conflict) as conflict:
        grant(kernel, central_admin, someone, "viewer", tree.c1.id)
    assert conflict.value.code == "authz.grant_exists"


def test_the_last_central_administrator_cannot_be_revoked(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    from sqlalchemy import select

    from nentang.kernel.authz.models import Grant

    with kernel.db.platform() as session:
        only = session.scalar(select(Grant.id).where(Grant.principal == str(central_admin)))
    with kernel.db.platform() as session, session.begin(), pytest.raises(Conflict) as conflict:
        kernel.authz.revoke(session, actor=central_admin, grant_id=only)
    assert conflict.value.code == "authz.last_admin"
    assert kernel.authz.check(str(central_admin), tree.central.id, GRANTS_MANAGE)
    assert "authz.refused" in audit_actions(kernel, tree.central.id)
    second = make_user(kernel, "second.admin", tree.central.id)
    grant(kernel, central_admin, second, "admin", tree.central.id)
    with kernel.db.platform() as session, session.begin():
        kernel.authz.revoke(session, actor=second, grant_id=only)
    kernel.watcher.poll_now()
    assert not kernel.authz.check(str(central_admin), tree.central.id, GRANTS_MANAGE)
    assert "grant.revoke" in audit_actions(kernel, tree.central.id)


def test_a_revoke_outside_ones_subtree_is_refused(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    from sqlalchemy import select

    from nentang.kernel.authz.models import Grant

    p1_admin = make_user(kernel, "p1.admin", tree.p1.id)
    p2_viewer = make_user(kernel, "p2.viewer", tree.p2.id)
    grant(kernel, central_admin, p1_admin, "admin", tree.p1.id)
    grant(kernel, central_admin, p2_viewer, "viewer", tree.p2.id)
    with kernel.db.platform() as session:
        target = session.scalar(select(Grant.id).where(Grant.principal == str(p2_viewer)))
    # Refused as if the grant did not exist: one may not list the grants one may not manage.
    with kernel.db.platform() as session, session.begin(), pytest.raises(NotFound, match=f"no grant with id {target}$"):
        kernel.authz.revoke(session, actor=p1_admin, grant_id=target)
    assert kernel.authz.check(str(p2_viewer), tree.p2.id, TENANTS_READ)
    assert "authz.refused" in audit_actions(kernel, tree.p2.id)  # still a security event there


def test_require_in_reads_inside_the_callers_transaction(kernel: Kernel, tree: Tree, central_admin: Actor) -> None:
    someone = make_user(kernel, "someone", tree.c1.id)
    with kernel.db.platform() as session, session.begin():
        kernel.authz.grant(session, actor=central_admin, principal=str(someone), role="viewer", tenant_id=tree.c1.id)
        kernel.authz.require_in(session, str(someone), tree.c1.id, TENANTS_READ)  # not yet committed
        with pytest.raises(PermissionDenied):
            kernel.authz.require_in(session, str(someone), tree.c1.id, USERS_MANAGE)


def test_a_token_never_counts_as_the_last_central_administrator(
    kernel: Kernel, tree: Tree, central_admin: Actor
) -> None:
    from sqlalchemy import select

    from nentang.kernel.authz.models import Grant

    created = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="TW", name="integration", roles=["admin"], expires_in_days=30
    )
    # the token's admin grant does not make the only user-admin revocable...
    with kernel.db.platform() as session:
        user_grant = session.scalar(select(Grant.id).where(Grant.principal == str(central_admin)))
    with kernel.db.platform() as session, session.begin(), pytest.raises(Conflict) as conflict:
        kernel.authz.revoke(session, actor=central_admin, grant_id=user_grant)
    assert conflict.value.code == "authz.last_admin"
    # ...and revoking the token is never blocked by the rule
    kernel.tokens.revoke_as_operator(OPERATOR, created.token.id)
    with kernel.db.platform() as session:
        assert session.scalars(select(Grant).where(Grant.principal.startswith("token:"))).all() == []


def test_a_custom_role_named_admin_is_not_the_administrator_template(kernel: Kernel, tree: Tree) -> None:
    """The last-administrator rule is about the template: a custom role that only shares its name
    can be revoked even when no user holds the template at the root."""
    created = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="TW", name="integration", roles=["admin"], expires_in_days=30
    )
    integration = Actor("token", str(created.token.id))
    someone = make_user(kernel, "someone", tree.central.id)
    create_role(kernel, integration, tree.central.id, "admin", [TENANTS_READ])
    with kernel.db.platform() as session, session.begin():
        granted = kernel.authz.grant(
            session, actor=integration, principal=str(someone), role="admin", tenant_id=tree.central.id
        )
    with kernel.db.platform() as session, session.begin():
        kernel.authz.revoke(session, actor=integration, grant_id=granted.id or 0)
    kernel.watcher.poll_now()
    assert not kernel.authz.check(str(someone), tree.central.id, TENANTS_READ)
