"""The console's People pages: a unit's users paged and searched, adding a person (a password shown
once), disabling, granting and revoking roles within one's own subtree and permissions."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.testclient import TestClient

from nentang.kernel.identity.models import User
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.identity_fixtures import actions, grant, grant_rows, make_role, make_user

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def user_count(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_a_units_people_are_listed_searched_and_kept_to_the_subtree(
    client: TestClient, kernel: Kernel, admin: UserInfo
) -> None:
    make_user(kernel, "lan.nguyen", "00001", display_name="Nguyễn Thị Lan")
    make_user(kernel, "other.prov", "02")
    console_sign_in(client, "admin.hanoi")
    own = client.get("/t/01/console/people")
    assert own.status_code == 200 and "admin.hanoi" in own.text and "lan.nguyen" not in own.text
    below = client.get("/t/01/console/people?subtree=1")
    assert "lan.nguyen" in below.text and "other.prov" not in below.text and "2 người dùng" in below.text
    searched = client.get("/t/01/console/people?subtree=1&q=lan")
    assert "lan.nguyen" in searched.text and "admin.hanoi" not in searched.text
    assert client.get("/t/01/console/people?unit=02").status_code == 404
    assert client.get("/t/01/console/people/other.prov").status_code == 404
    assert client.get("/t/01/console/people/nobody.at.all").status_code == 404


def test_adding_a_person_shows_the_generated_password_once(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    token = form_token(client.get("/t/01/console/people/new?unit=00001").text)
    fields = {"unit": "00001", "username": "Minh.Tran", "display_name": "Trần Minh", "password": "generate"}
    response = post_form(client, "/t/01/console/people/new", token, **fields)
    assert response.status_code == 200 and "Đã thêm người dùng" in response.text
    password = re.search(r'<dd class="code" id="password">([^<]+)</dd>', response.text)
    assert password is not None
    created = kernel.users.get("minh.tran")
    assert created.home_tenant_id == tree.c1.id
    assert kernel.login.authenticate("minh.tran", password.group(1)).id == created.id
    again = post_form(client, "/t/01/console/people/new", token, **fields)  # the browser sends it twice
    assert again.status_code == 409 and '<a href="#username">Tên đăng nhập này đã có người dùng' in again.text
    assert "user.create" in actions(kernel, tree.c1.id)


def test_a_bad_username_is_named_beside_its_field(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    token = console_sign_in(client, "admin.hanoi")
    before = user_count(kernel)
    response = post_form(
        client, "/t/01/console/people/new", token, unit="01", username="x", display_name="X", password="none"
    )
    assert response.status_code == 400 and '<a href="#username">Nhập tên đăng nhập từ 3 đến 64' in response.text
    assert user_count(kernel) == before


def test_adding_a_person_in_another_province_is_refused(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    token = console_sign_in(client, "admin.hanoi")
    before = user_count(kernel)
    response = post_form(
        client, "/t/01/console/people/new", token, unit="00003", username="forged", display_name="F", password="none"
    )
    assert response.status_code == 404 and user_count(kernel) == before


def test_disable_and_enable_a_person(client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    make_user(kernel, "lan.nguyen", "00001")
    token = console_sign_in(client, "admin.hanoi")
    response = post_form(client, "/t/01/console/people/lan.nguyen/disable", token, reason="nghỉ việc")
    assert response.status_code == 303 and kernel.users.get("lan.nguyen").status == "disabled"
    again = post_form(client, "/t/01/console/people/lan.nguyen/disable", token, reason="")
    assert again.status_code == 409 and "Người dùng đã ở trạng thái đó" in again.text
    enabled = post_form(client, "/t/01/console/people/lan.nguyen/enable", token)
    assert enabled.status_code == 303 and kernel.users.get("lan.nguyen").status == "active"


def test_a_forged_post_about_another_provinces_person_is_refused_and_audited(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    make_user(kernel, "other.prov", "02")
    token = console_sign_in(client, "admin.hanoi")
    response = post_form(client, "/t/01/console/people/other.prov/disable", token, reason="")
    assert response.status_code == 404 and kernel.users.get("other.prov").status == "active"
    assert "user.refused" in actions(kernel, tree.p2.id)


def test_grant_and_revoke_a_role_showing_what_may_not_be_granted(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    make_user(kernel, "lan.nguyen", "00001")
    make_role(kernel, admin.actor, tree.p1.id, "thu-ky", ["kernel.users.read"])
    token = console_sign_in(client, "admin.hanoi")
    page = client.get("/t/01/console/people/lan.nguyen")
    assert '<option value="thu-ky">thu-ky (01)</option>' in page.text and '<option value="viewer">' in page.text
    before = grant_rows(kernel)
    response = post_form(client, "/t/01/console/people/lan.nguyen/grants", token, role="thu-ky", unit="00001")
    assert response.status_code == 303 and grant_rows(kernel) == before + 1
    page = client.get(response.headers["location"])
    assert "Đã giao vai trò" in page.text and "Thu hồi thu-ky tại 00001" in page.text
    duplicate = post_form(client, "/t/01/console/people/lan.nguyen/grants", token, role="thu-ky", unit="00001")
    assert duplicate.status_code == 409 and grant_rows(kernel) == before + 1
    outside = post_form(client, "/t/01/console/people/lan.nguyen/grants", token, role="viewer", unit="02")
    assert outside.status_code == 404 and grant_rows(kernel) == before + 1
    revoke = re.search(r'action="(/t/01/console/people/lan.nguyen/grants/\d+/revoke)"', page.text)
    assert revoke is not None
    revoked = post_form(client, revoke.group(1), token)
    assert revoked.status_code == 303 and grant_rows(kernel) == before


def test_a_role_beyond_ones_own_permissions_is_refused_with_the_reason(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    delegate = make_user(kernel, "grants.hanoi", "01")
    make_role(kernel, admin.actor, tree.p1.id, "cap-quyen", ["kernel.grants.manage", "kernel.users.read"])
    grant(kernel, delegate, "cap-quyen", tree.p1.id)
    make_user(kernel, "lan.nguyen", "00001")
    token = console_sign_in(client, "grants.hanoi")
    page = client.get("/t/01/console/people/lan.nguyen")
    assert "Vai trò bạn không được giao tại đây" in page.text and "kernel.tenants.create" in page.text
    before = grant_rows(kernel)
    response = post_form(client, "/t/01/console/people/lan.nguyen/grants", token, role="admin", unit="00001")
    assert response.status_code == 403 and "kernel.tenants.create" in response.text
    assert grant_rows(kernel) == before
    assert "authz.refused" in actions(kernel, tree.c1.id)
