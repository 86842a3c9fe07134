"""The console's API tokens page: the secret shown once and working, no duplicate on a second
submission, roles beyond one's own refused, another unit's token out of reach."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.identity_fixtures import OPERATOR, actions, make_admin

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def test_a_token_is_shown_once_works_and_is_not_made_twice(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    form = client.get("/t/01/console/tokens/new")
    assert form.status_code == 200 and 'name="roles" type="checkbox" value="viewer"' in form.text
    token = form_token(form.text)
    response = post_form(client, "/t/01/console/tokens/new", token, name="LGSP", roles="viewer", days="30")
    assert response.status_code == 200 and "Đã tạo mã truy cập" in response.text
    secret = re.search(r'<dd class="code" id="secret">([^<]+)</dd>', response.text)
    assert secret is not None
    assert kernel.tokens.authenticate(secret.group(1)).tenant_id == tree.p1.id
    again = post_form(client, "/t/01/console/tokens/new", token, name="LGSP", roles="viewer", days="30")
    assert again.status_code == 409 and '<a href="#name">Đơn vị đã có mã truy cập mang tên này' in again.text
    assert len(kernel.tokens.list_as_operator("01")) == 1
    listed = client.get("/t/01/console/tokens")
    assert "LGSP" in listed.text and secret.group(1) not in listed.text  # never the secret again


def test_bad_lifetime_and_missing_roles_are_named_beside_their_fields(
    client: TestClient, kernel: Kernel, admin: UserInfo
) -> None:
    token = console_sign_in(client, "admin.hanoi")
    days = post_form(client, "/t/01/console/tokens/new", token, name="X", roles="viewer", days="soon")
    assert days.status_code == 400 and '<a href="#days">Nhập thời hạn bằng số ngày' in days.text
    roles = post_form(client, "/t/01/console/tokens/new", token, name="X", days="30")
    assert roles.status_code == 400 and '<a href="#roles">' in roles.text
    assert kernel.tokens.list_as_operator("01") == []


def test_a_role_beyond_ones_own_is_refused_and_a_viewer_may_not_manage_tokens(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    make_admin(kernel, "viewer.hanoi", "01", tree.p1.id, role="viewer")
    token = console_sign_in(client, "viewer.hanoi")
    assert client.get("/t/01/console/tokens").status_code == 403
    refused = post_form(client, "/t/01/console/tokens/new", token, name="X", roles="viewer", days="30")
    assert refused.status_code == 403 and "kernel.tokens.manage" in refused.text
    assert kernel.tokens.list_as_operator("01") == []


def test_another_units_token_cannot_be_revoked_from_here(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    other = kernel.tokens.create_as_operator(
        OPERATOR, tenant_code="02", name="other", roles=["viewer"], expires_in_days=7
    )
    token = console_sign_in(client, "admin.hanoi")
    response = post_form(client, f"/t/01/console/tokens/{other.token.id}/revoke", token)
    assert response.status_code == 404
    assert kernel.tokens.authenticate(other.plaintext).id == other.token.id  # still works
    assert "token.revoke" not in actions(kernel, tree.p2.id)
