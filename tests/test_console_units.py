"""The console's unit chooser and units pages: only where one holds a role, paged and searched, acts
within one's own subtree, refusals with their reason, no duplicates, redirect-after-post."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.testclient import TestClient

from nentang.kernel.console.pages import PAGE_SIZE
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, TenantKind, TenantStatus
from tests import console_fixtures
from tests.conftest import ACTOR, Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.identity_fixtures import actions, audit_entries, changes, grant, make_admin

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def tenant_count(kernel: Kernel) -> int:
    with kernel.db.platform() as session:
        return session.scalar(select(func.count()).select_from(Tenant)) or 0


# -- the unit chooser ----------------------------------------------------------------------------


def test_one_subtree_of_roles_goes_straight_to_its_unit(client: TestClient, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    response = client.get("/console/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/t/01/console/"


def test_the_chooser_lists_only_units_where_one_holds_a_role(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    grant(kernel, admin, "viewer", tree.c3.id)  # a second subtree: a commune of the other province
    console_sign_in(client, "admin.hanoi")
    page = client.get("/console/")
    assert page.status_code == 200
    for code in ("01", "00001", "00002", "00003"):
        assert f'href="/t/{code}/console/"' in page.text
    for code in ("TW", "02"):
        assert f'href="/t/{code}/console/"' not in page.text
    assert "4 đơn vị" in page.text
    searched = client.get("/console/?choose=1&q=Hai")
    assert 'href="/t/00002/console/"' in searched.text and 'href="/t/00001/console/"' not in searched.text


def test_a_central_administrator_pages_through_every_unit(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_admin(kernel, "admin.tw", "TW", tree.central.id)
    for n in range(PAGE_SIZE + 5):
        kernel.tenants.create(
            code=f"9{n:04d}", name=f"Xã Thử {n}", kind=TenantKind.COMMUNE, parent_code="02", actor=ACTOR
        )
    total = tenant_count(kernel)
    console_sign_in(client, "admin.tw")
    seen: list[str] = []
    url = "/console/?choose=1"
    while url:
        page = client.get(url.replace("&amp;", "&"))
        assert page.status_code == 200
        assert f"{total} đơn vị" in page.text
        rows = page.text.count('<td class="code">')
        assert rows <= PAGE_SIZE
        seen += [line.split(">")[1].split("<")[0] for line in page.text.splitlines() if '<td class="code">' in line]
        found = [line for line in page.text.splitlines() if 'rel="next"' in line]
        url = found[0].split('href="')[1].split('"')[0] if found else ""
    assert len(seen) == total == len(set(seen))
    assert seen[:3] == ["TW", "01", "02"]  # by level, then code


# -- the tree ------------------------------------------------------------------------------------


def test_the_tree_opens_one_level_at_a_time(client: TestClient, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    page = client.get("/t/01/console/units")
    assert 'href="/t/01/console/units/00001"' in page.text and "2 đơn vị" in page.text
    one = client.get("/t/01/console/units?parent=00001")
    assert one.status_code == 200 and "0 đơn vị" in one.text
    searched = client.get("/t/01/console/units?q=Hai")
    assert 'href="/t/01/console/units/00002"' in searched.text and "00001" not in searched.text


def test_a_level_is_paged(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    for n in range(PAGE_SIZE + 1):
        kernel.tenants.create(
            code=f"8{n:04d}", name=f"Phường {n}", kind=TenantKind.COMMUNE, parent_code="01", actor=ACTOR
        )
    console_sign_in(client, "admin.hanoi")
    first = client.get("/t/01/console/units")
    assert first.text.count('<td class="code">') == PAGE_SIZE and 'rel="next"' in first.text
    assert "53 đơn vị" in first.text
    assert 'href="/t/01/console/units?after=80047" rel="next"' in first.text  # 00001, 00002, 80000-80047
    last = client.get("/t/01/console/units?after=80047")
    assert last.text.count('<td class="code">') == 3 and 'rel="next"' not in last.text


def test_a_unit_outside_ones_subtree_is_not_found(client: TestClient, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    for path in ("/t/01/console/units/00003", "/t/01/console/units?parent=02", "/t/01/console/units/TW/new"):
        response = client.get(path)
        assert response.status_code == 404 and "Không có đơn vị mang mã" in response.text, path


def test_a_units_page_shows_its_trail_and_acts(client: TestClient, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    page = client.get("/t/01/console/units/00001")
    assert page.status_code == 200 and "Phường Một" in page.text
    assert 'href="/t/01/console/units/01"' in page.text  # the trail, from the acting unit
    assert 'action="/t/01/console/units/00001/suspend"' in page.text
    assert 'href="/t/01/console/units/00001/new"' in page.text


# -- provisioning ----------------------------------------------------------------------------------


def test_provisioning_a_unit_posts_then_redirects(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    form = client.get("/t/01/console/units/00001/new")
    assert '<option value="unit">' in form.text
    fields = {"code": "00001-VP", "name": "Văn phòng", "kind": "unit", "division_type": ""}
    response = post_form(client, "/t/01/console/units/00001/new", form_token(form.text), **fields)
    assert response.status_code == 303 and response.headers["location"] == "/t/01/console/units/00001-VP?created=1"
    created = kernel.tenants.get("00001-VP")
    assert created.parent_id == kernel.tenants.get("00001").id
    entry = audit_entries(kernel, created.id)[0]
    assert entry[0] == "tenant.create" and entry[1] == admin.principal
    assert "Đã tạo đơn vị" in client.get(response.headers["location"]).text


def test_a_double_submission_creates_no_duplicate(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    token = form_token(client.get("/t/01/console/units/00001/new").text)
    fields = {"code": "VP1", "name": "Văn phòng", "kind": "unit"}
    first = post_form(client, "/t/01/console/units/00001/new", token, **fields)
    before = tenant_count(kernel)
    second = post_form(client, "/t/01/console/units/00001/new", token, **fields)
    assert first.status_code == 303 and second.status_code == 409
    assert '<a href="#code">Đã có đơn vị mang mã này' in second.text
    assert tenant_count(kernel) == before


def test_a_bad_code_is_named_beside_its_field(client: TestClient, kernel: Kernel, admin: UserInfo) -> None:
    console_sign_in(client, "admin.hanoi")
    token = form_token(client.get("/t/01/console/units/00001/new").text)
    before = tenant_count(kernel)
    response = post_form(client, "/t/01/console/units/00001/new", token, code="has space", name="X", kind="unit")
    assert response.status_code == 400
    assert '<a href="#code">Nhập mã từ 1 đến 32 ký tự' in response.text and 'id="code-error"' in response.text
    assert 'value="has space"' in response.text  # what was typed stays
    assert tenant_count(kernel) == before


def test_a_forged_post_naming_another_provinces_unit_is_refused_and_audited(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    token = console_sign_in(client, "admin.hanoi")
    before, other_changes = tenant_count(kernel), changes(kernel, tree.c3.id)
    for path in ("/t/01/console/units/00003/new", "/t/01/console/units/00003/suspend"):
        response = post_form(client, path, token, code="FORGED", name="Giả", kind="unit", reason="x")
        assert response.status_code == 404, path
    assert tenant_count(kernel) == before and kernel.tenants.get("00003").status == TenantStatus.ACTIVE
    assert changes(kernel, tree.c3.id) == other_changes
    assert "console.refused" in actions(kernel, tree.c3.id) and "console.refused" in actions(kernel, tree.p1.id)


def test_provisioning_without_the_permission_there_is_refused_with_the_reason(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    grant(kernel, admin, "viewer", tree.central.id)  # may stand at TW, may create only in 01
    token = console_sign_in(client, "admin.hanoi", next_path="/t/TW/console/")
    assert client.get("/t/TW/console/units/02").status_code == 200
    before = tenant_count(kernel)
    response = post_form(client, "/t/TW/console/units/02/new", token, code="X02", name="Giả", kind="commune")
    assert response.status_code == 403
    assert "Bạn không có quyền làm việc này" in response.text and "kernel.tenants.create" in response.text
    assert tenant_count(kernel) == before
    assert "console.refused" in actions(kernel, tree.p2.id)
    allowed = post_form(client, "/t/TW/console/units/01/new", token, code="X01", name="Được", kind="commune")
    assert allowed.status_code == 303


# -- suspend and reactivate -----------------------------------------------------------------------


def test_suspend_and_reactivate_a_commune(client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    token = console_sign_in(client, "admin.hanoi")
    suspended = post_form(client, "/t/01/console/units/00001/suspend", token, reason="sáp nhập")
    assert suspended.status_code == 303
    assert suspended.headers["location"] == "/t/01/console/units/00001?done=unit.suspend"
    assert kernel.tenants.get("00001").status == TenantStatus.SUSPENDED
    assert ("tenant.suspend", admin.principal, "00001", {"reason": "sáp nhập"}) in audit_entries(kernel, tree.c1.id)
    page = client.get(suspended.headers["location"])
    assert "Đã tạm dừng đơn vị" in page.text and 'action="/t/01/console/units/00001/reactivate"' in page.text
    again = post_form(client, "/t/01/console/units/00001/suspend", token, reason="again")
    assert again.status_code == 400 and "Đơn vị đã ở trạng thái đó" in again.text
    reactivated = post_form(client, "/t/01/console/units/00001/reactivate", token)
    assert reactivated.status_code == 303 and kernel.tenants.get("00001").status == TenantStatus.ACTIVE


def test_a_viewer_is_offered_no_acts_and_is_refused_them(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    viewer = make_admin(kernel, "viewer.hanoi", "01", tree.p1.id, role="viewer")
    token = console_sign_in(client, viewer.username)
    page = client.get("/t/01/console/units/00001")
    assert "/suspend" not in page.text and "/new" not in page.text
    response = post_form(client, "/t/01/console/units/00001/suspend", token, reason="")
    assert response.status_code == 403 and "kernel.tenants.manage" in response.text
    assert kernel.tenants.get("00001").status == TenantStatus.ACTIVE


def test_a_post_without_its_token_changes_nothing(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    before = changes(kernel, tree.c1.id)
    for token in (None, "wrong-token"):
        response = post_form(client, "/t/01/console/units/00001/suspend", token, reason="x")
        assert response.status_code == 403 and "Biểu mẫu đã hết hạn" in response.text
    assert kernel.tenants.get("00001").status == TenantStatus.ACTIVE and changes(kernel, tree.c1.id) == before
