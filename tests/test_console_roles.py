"""The console's Roles pages: what is visible and why a role cannot be handed out, and custom roles
built only from permissions the administrator holds (a forged post naming another is refused)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.testclient import TestClient

from nentang.kernel.authz.models import Role
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.identity_fixtures import actions, grant, make_role, make_user

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def role_count(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(Role)) or 0


def test_an_administrator_creates_a_custom_role(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    listed = client.get("/t/01/console/roles")
    assert listed.status_code == 200 and '<td class="code">auditor</td>' in listed.text
    form = client.get("/t/01/console/roles/new")
    assert 'value="kernel.users.read"' in form.text
    response = post_form(
        client, "/t/01/console/roles/new", form_token(form.text), name="thu-ky", permissions="kernel.users.read"
    )
    assert response.status_code == 303 and response.headers["location"] == "/t/01/console/roles?done=role.create"
    assert '<td class="code">thu-ky</td>' in client.get(response.headers["location"]).text
    assert "role.create" in actions(kernel, tree.p1.id)
    again = post_form(
        client, "/t/01/console/roles/new", form_token(form.text), name="thu-ky", permissions="kernel.users.read"
    )
    assert again.status_code == 409 and '<a href="#name">Đơn vị đã có vai trò mang tên này' in again.text


def test_a_role_from_permissions_one_lacks_is_not_offered_and_a_forged_post_is_refused(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    make_role(kernel, admin.actor, tree.p1.id, "role-maker", ["kernel.roles.manage", "kernel.users.read"])
    maker = make_user(kernel, "maker.hanoi", "01")
    grant(kernel, maker, "role-maker", tree.p1.id)
    token = console_sign_in(client, "maker.hanoi")
    form = client.get("/t/01/console/roles/new")
    assert 'value="kernel.users.read"' in form.text and 'value="kernel.tenants.create"' not in form.text
    assert "<code>kernel.tenants.create</code> – không chọn được" in form.text
    listed = client.get("/t/01/console/roles")
    assert "Không: chính bạn không có quyền kernel.audit.read" in listed.text  # auditor, and why not
    before = role_count(kernel)
    forged = post_form(client, "/t/01/console/roles/new", token, name="too-much", permissions="kernel.tenants.create")
    assert forged.status_code == 403 and "kernel.tenants.create" in forged.text
    assert role_count(kernel) == before
    assert "authz.refused" in actions(kernel, tree.p1.id)


def test_someone_without_role_rights_may_not_see_the_roles(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    viewer = make_user(kernel, "viewer.hanoi", "01")
    grant(kernel, viewer, "viewer", tree.p1.id)
    console_sign_in(client, "viewer.hanoi")
    assert client.get("/t/01/console/roles").status_code == 403
