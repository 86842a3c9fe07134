"""The console's Audit page: a unit's log filtered and paged, bad filters named per field, only the
units one may read (404 elsewhere), the permission checked as GraphQL does, the chain verified."""

from __future__ import annotations

import html
import inspect
import re
from datetime import datetime, timedelta
from importlib import import_module

from sqlalchemy import text
from starlette.testclient import TestClient
from strawberry.utils.str_converters import to_camel_case

from nentang.kernel.authz import permissions
from nentang.kernel.console import audit_page
from nentang.kernel.console.actions import READS
from nentang.kernel.console.i18n import LOCAL_TIME
from nentang.kernel.console.pages import PAGE_SIZE
from nentang.kernel.graphql.modules import KERNEL_MODULES
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, post_form
from tests.identity_fixtures import actions, audit_entries, changes, grant, make_admin, make_user
from tests.test_audit import append, as_owner_bypassing_append_only

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin

_ROW = re.compile(
    r'<td class="seq">(\d+)</td>\s*<td><time datetime="[^"]+">([^<]+)</time></td>\s*'
    r'<td class="code">([^<]*)</td>\s*<td class="code">([^<]*)</td>\s*<td class="code">([^<]*)</td>'
)


def rows(page: str) -> list[tuple[int, str, str, str, str]]:
    """(seq, time shown, actor, action, target) of every entry in the page's table."""
    return [(int(s), at, html.unescape(a), act, html.unescape(t)) for s, at, a, act, t in _ROW.findall(page)]


def older_link(page: str) -> str:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found.group(1)) if found else ""


def today() -> datetime:
    return datetime.now(LOCAL_TIME)


# -- reading and filtering ---------------------------------------------------------------------------


def test_the_log_of_the_acting_unit_newest_first_with_vietnamese_dates(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    overview = client.get("/t/01/console/")
    assert 'href="/t/01/console/audit"' in overview.text and "Nhật ký" in overview.text  # the menu entry
    page = client.get("/t/01/console/audit")
    assert page.status_code == 200 and "Nhật ký kiểm toán của Thành phố Hà Nội" in page.text
    shown = rows(page.text)
    stored = audit_entries(kernel, tree.p1.id)
    assert [r[0] for r in shown] == list(range(len(stored), 0, -1))  # all of 01's entries, newest first
    assert {r[3] for r in shown} == {action for action, *_ in stored}
    assert all(r[1].startswith(today().strftime("%d/%m/%Y ")) for r in shown)  # dd/mm/yyyy HH:mm
    english = client.get("/t/01/console/audit?lang=en")
    assert "Audit log of Thành phố Hà Nội" in english.text and today().strftime("%Y") in english.text


def test_filter_by_actor_action_and_days(client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    append(kernel, tree.p1.id, 3)  # three "test.act" by user:42
    console_sign_in(client, "admin.hanoi")
    by_action = rows(client.get("/t/01/console/audit?action=test.act").text)
    assert len(by_action) == 3 and {r[3] for r in by_action} == {"test.act"}
    assert {r[4] for r in by_action} == {"t0", "t1", "t2"}
    assert rows(client.get("/t/01/console/audit?action=test.").text) == by_action  # a prefix
    by_actor = rows(client.get("/t/01/console/audit?actor=user:42").text)
    assert by_actor == by_action
    signed_in = rows(client.get(f"/t/01/console/audit?actor={admin.actor}").text)
    assert {r[2] for r in signed_in} == {str(admin.actor)} and "test.act" not in {r[3] for r in signed_in}
    day, yesterday = today().date(), today().date() - timedelta(days=1)
    for shown in (day.strftime("%d/%m/%Y"), day.isoformat()):  # typed, or sent by a date input
        within = client.get(f"/t/01/console/audit?since={shown}&until={shown}&action=test.act")
        assert within.status_code == 200 and len(rows(within.text)) == 3
        assert f'value="{shown}"' in within.text  # the form shows the filter as typed
    before = client.get(f"/t/01/console/audit?until={yesterday.strftime('%d/%m/%Y')}")
    assert rows(before.text) == [] and "Không có bản ghi nào phù hợp." in before.text
    after = client.get(f"/t/01/console/audit?since={(day + timedelta(days=1)).isoformat()}")
    assert rows(after.text) == []


def test_paging_with_the_older_link_shows_every_entry_once(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    append(kernel, tree.p1.id, PAGE_SIZE + 5)
    total = len(audit_entries(kernel, tree.p1.id))
    console_sign_in(client, "admin.hanoi")
    seen: list[int] = []
    url, pages = "/t/01/console/audit?action=test.act", 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        assert len(rows(page.text)) <= PAGE_SIZE
        seen += [r[0] for r in rows(page.text)]
        url, pages = older_link(page.text), pages + 1
        assert "action=test.act" in url or not url  # the filter is kept
    assert pages == 2 and len(seen) == PAGE_SIZE + 5 == len(set(seen))
    assert seen == sorted(seen, reverse=True) and seen[0] == total


def test_bad_filters_are_named_on_their_field_and_nothing_breaks(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    console_sign_in(client, "admin.hanoi")
    cases = {
        "since=31/02/2026": ("since", "Nhập ngày theo dạng 31/12/2026"),
        "until=2026-13-01": ("until", "Nhập ngày theo dạng 31/12/2026"),
        "since=hôm+nay": ("since", "Nhập ngày theo dạng 31/12/2026"),
        "since=10/12/2026&until=01/12/2026": ("until", "Ngày “từ” không được sau ngày “đến”"),
        "action=..": ("action", "Nhập một thao tác (plugin.enable)"),
    }
    for query, (field, message) in cases.items():
        page = client.get(f"/t/01/console/audit?{query}")
        assert page.status_code == 400, query
        assert f'id="{field}-error"' in page.text and message in page.text, query
        assert f'<a href="#{field}">' in page.text  # the error summary links to the field
        assert rows(page.text) == []
    damaged = client.get("/t/01/console/audit?after=not-a-key")
    assert damaged.status_code == 400 and "Liên kết đến các bản ghi cũ hơn bị hỏng" in damaged.text
    huge = client.get("/t/01/console/audit?actor=" + "x" * 5000)
    assert huge.status_code == 200 and rows(huge.text) == []


# -- whose log -------------------------------------------------------------------------------------


def test_a_commune_administrator_reads_only_their_commune(client: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_admin(kernel, "admin.xa1", "00001", tree.c1.id)
    append(kernel, tree.c2.id, 2)  # the neighbouring commune's entries
    console_sign_in(client, "admin.xa1")
    page = client.get("/t/00001/console/audit")
    assert page.status_code == 200
    assert len(rows(page.text)) == len(audit_entries(kernel, tree.c1.id))
    assert "test.act" not in page.text
    for forged in ("00002", "01", "00003", "02", "TW", "NOPE"):
        response = client.get(f"/t/00001/console/audit?unit={forged}")
        assert response.status_code == 404 and "test.act" not in response.text, forged
    assert client.get("/t/00002/console/audit").status_code == 403  # no role there: the binding refuses


def test_a_province_reads_its_communes_but_never_another_province(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    append(kernel, tree.c1.id, 1)
    append(kernel, tree.p2.id, 2)
    token = console_sign_in(client, "admin.hanoi")
    commune = client.get("/t/01/console/audit?unit=00001")
    assert commune.status_code == 200 and "test.act" in commune.text
    assert len(rows(commune.text)) == len(audit_entries(kernel, tree.c1.id))
    for forged in ("/t/01/console/audit?unit=02", "/t/01/console/audit?unit=00003"):
        response = client.get(forged)
        assert response.status_code == 404 and "test.act" not in response.text
    assert client.get("/t/02/console/audit").status_code == 403
    other = changes(kernel, tree.p2.id)
    forged_post = post_form(client, "/t/01/console/audit/verify", token, unit="02")
    assert forged_post.status_code == 404
    assert changes(kernel, tree.p2.id) == other and "console.refused" in actions(kernel, tree.p2.id)


def test_without_the_audit_permission_the_page_is_refused_with_the_reason(
    client: TestClient, kernel: Kernel, tree: Tree
) -> None:
    viewer = make_user(kernel, "xem.hanoi", "01")
    grant(kernel, viewer, "viewer", tree.p1.id)
    token = console_sign_in(client, "xem.hanoi")
    for response in (client.get("/t/01/console/audit"), post_form(client, "/t/01/console/audit/verify", token)):
        assert response.status_code == 403
        assert "Bạn không có quyền làm việc này" in response.text and "kernel.audit.read" in response.text
        assert rows(response.text) == []
    assert actions(kernel, tree.p1.id).count("console.refused") >= 1
    grant(kernel, viewer, "auditor", tree.c1.id)  # the permission at a commune: that log only
    assert client.get("/t/01/console/audit?unit=00001").status_code == 200
    assert client.get("/t/01/console/audit?unit=00002").status_code == 403


# -- the chain -------------------------------------------------------------------------------------


def test_verifying_the_chain_shows_intact_then_the_first_broken_entry(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    append(kernel, tree.c1.id, 3)
    token = console_sign_in(client, "admin.hanoi")
    count = len(audit_entries(kernel, tree.c1.id))
    assert post_form(client, "/t/01/console/audit/verify", None, unit="00001").status_code == 403  # no token
    intact = post_form(client, "/t/01/console/audit/verify", token, unit="00001")
    assert intact.status_code == 200 and "Chuỗi nhật ký nguyên vẹn" in intact.text
    assert f"{count} bản ghi đã kiểm tra" in intact.text
    assert "Nhật ký kiểm toán của Phường Một" in intact.text  # the page shown is the commune's
    with as_owner_bypassing_append_only(kernel) as conn:
        conn.execute(
            text("UPDATE kernel_audit SET target = 'forged' WHERE tenant_id = :t AND seq = 2"), {"t": tree.c1.id}
        )
    broken = post_form(client, "/t/01/console/audit/verify", token, unit="00001")
    assert broken.status_code == 200 and "Chuỗi nhật ký bị đứt tại bản ghi số 2" in broken.text
    assert "1 bản ghi trước đó nguyên vẹn" in broken.text and "altered" in broken.text
    own = post_form(client, "/t/01/console/audit/verify", token)  # no unit: the acting unit's
    assert own.status_code == 200 and "Chuỗi nhật ký nguyên vẹn" in own.text


# -- parity ------------------------------------------------------------------------------------------


def test_every_console_read_is_its_graphql_fields_read() -> None:
    resolvers = {
        field.graphql_name or to_camel_case(field.python_name): field.base_resolver.wrapped_func
        for module in KERNEL_MODULES
        for queries in module.queries
        for field in queries.__strawberry_definition__.fields  # type: ignore[attr-defined]
    }
    page = inspect.getsource(audit_page)
    for read in READS.values():
        module, name = read.function.rsplit(".", 1)
        function = getattr(import_module(module), name)
        assert read.graphql in resolvers, f"{read.name}: no GraphQL field {read.graphql!r}"
        source = inspect.getsource(resolvers[read.graphql])
        assert re.search(rf"\b{name}\b", source), f"{read.graphql} does not call {name}"
        constant = next(n for n, v in vars(permissions).items() if n.isupper() and v == read.permission)
        assert f"require_at({constant}" in source, f"{read.graphql} checks no {constant}"
        reached = function in vars(audit_page).values() or getattr(audit_page.audit_query, name, None) is function
        assert reached and re.search(rf"\b{name}\b", page), f"the console's {read.name} does not call {read.function}"
        assert f'"{read.name}"' in page, f"the console never checks {read.name}'s permission"
