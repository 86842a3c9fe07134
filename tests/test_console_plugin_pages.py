"""Plugins' console pages (``nentang_http_console_pages``): a throwaway plugin registered on the test's
own app contributes a page, which exists, with its menu entry, only where the plugin is enabled.

The plugin ``notes`` is enabled at commune 00001 and at commune 00003 (another province), not at
00002; the province administrator of 01 stands at 00001 and 00002. Its page lists the unit's notes
with the console's table macro and adds one by a form post.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.plugins.call_limits import PluginCallLimits
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.fixtures.notes_plugin.models import Note
from tests.graphql_fixtures import NOTES_PERMISSIONS
from tests.identity_fixtures import actions, grant, identity_settings, make_admin, make_user
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

PAGES_CODE = """
import time

from sqlalchemy import func, select

from nentang.sdk import ConsolePage, ConsoleRedirect, ConsoleView, hookimpl
from tests.fixtures.notes_plugin.models import Note


def notes_page(request):
    if request.query.get("spin"):
        end = time.monotonic() + 30
        while time.monotonic() < end:  # a handler that never ends: stopped at the plugin's deadline
            pass
    if request.method == "POST":
        body = request.form.get("body", "").strip()
        if not body:
            return ConsoleView("notes.html", {"rows": [], "error": "empty"}, status=400)
        next_id = (request.ctx.session.scalar(select(func.max(Note.id))) or 0) + 1
        request.ctx.session.add(Note(id=next_id, body=body))
        if request.query.get("boom"):
            raise RuntimeError("the notes index is corrupt")
        return ConsoleRedirect("")
    rows = [(n.id, n.body) for n in request.ctx.session.scalars(select(Note).order_by(Note.id))]
    return ConsoleView("notes.html", {"rows": rows, "error": ""})


@hookimpl
def nentang_http_console_pages(ctx):
    title = {"vi": "Ghi chú " + ctx.tenant.code, "en": "Notes " + ctx.tenant.code}
    return [ConsolePage("", notes_page, title, "notes.write", methods=("GET", "POST"))]
"""

TEMPLATE = """{% extends "nentang/base.html" %}
{% import "nentang/macros.html" as ui with context %}
{% block title %}{{ title }}{% endblock %}
{% block content %}
<h1>{{ title }}</h1>
{% if error %}<p class="error-message">empty note</p>{% endif %}
{{ ui.table("Notes of " ~ tenant.code, ["#", "Note"], rows) }}
<form method="post" action="{{ page_url }}">{{ ui.csrf() }}{{ ui.field("body", "Note") }}<button>Add</button></form>
{% endblock %}
"""

#: A plugin whose page names a permission it does not declare: left out, the console unharmed.
BAD_CODE = """
from nentang.sdk import ConsolePage, ConsoleView, hookimpl

@hookimpl
def nentang_http_console_pages(ctx):
    title = {"vi": "Hỏng", "en": "Broken"}
    return [
        ConsolePage("", lambda r: ConsoleView("x.html"), title, "kernel.everything"),
        ConsolePage("outside", lambda r: ConsoleView("x.html"), title, "broken.view", templates="../.."),
    ]
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("notes", PAGES_CODE, extra_files={"templates/notes.html": TEMPLATE}, **NOTES_PERMISSIONS)
    plugin_factory.make("broken", BAD_CODE)
    kernel = make_kernel(plugin_calls=PluginCallLimits(deadlines={"notes": DEADLINE}))
    for plugin, unit in (("notes", tree.c1), ("notes", tree.c3), ("broken", tree.c1)):
        kernel.plugins.activation.enable(
            actor=Actor.command_line(), plugin=plugin, tenant_code=unit.code, checked=False
        )
    return kernel


@pytest.fixture
def client(plugged: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(plugged), base_url="https://testserver", raise_server_exceptions=False) as http:
        yield http


@pytest.fixture
def writer(plugged: Kernel, tree: Tree) -> UserInfo:
    """The province administrator of 01, also holding the plugin's role there."""
    user = make_admin(plugged, "admin.hanoi", "01", tree.p1.id)
    grant(plugged, user, "notes.writer", tree.p1.id)
    return user


def _notes(kernel: Kernel, tenant_id: int) -> list[str]:
    with kernel.db.tenant(tenant_id) as session:
        return [n.body for n in session.scalars(select(Note).order_by(Note.id))]


PAGE = "/t/00001/console/p/notes/"
DEADLINE = 1.0


def test_the_page_and_its_menu_entry_exist_where_the_plugin_is_enabled(client: TestClient, writer: UserInfo) -> None:
    console_sign_in(client, writer.username)
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    assert "<h1>Ghi chú 00001</h1>" in page.text  # the title in Vietnamese, by default
    assert 'class="skip-link"' in page.text and "Phường Một" in page.text  # inside the console's layout
    assert "<caption" in page.text or "Chưa có gì để hiển thị." in page.text
    overview = client.get("/t/00001/console/")
    assert f'href="{PAGE}"' in overview.text and "Ghi chú 00001" in overview.text
    assert "Notes 00001" in client.get(PAGE + "?lang=en").text


def test_where_the_plugin_is_disabled_the_page_is_a_404_and_the_menu_has_no_entry(
    client: TestClient, writer: UserInfo
) -> None:
    console_sign_in(client, writer.username)
    missing = client.get("/t/00002/console/p/notes/")
    assert missing.status_code == 404
    assert "Ghi chú" not in missing.text
    assert "/p/notes/" not in client.get("/t/00002/console/").text
    assert client.get("/t/00001/console/p/notes/elsewhere").status_code == 404  # no such page of an enabled plugin


def test_a_post_needs_its_csrf_token_and_then_writes_in_its_unit(
    client: TestClient, plugged: Kernel, tree: Tree, writer: UserInfo
) -> None:
    token = console_sign_in(client, writer.username)
    assert post_form(client, PAGE, None, body="không token").status_code == 403
    assert post_form(client, PAGE, "x" * 43, body="token sai").status_code == 403
    assert _notes(plugged, tree.c1.id) == []
    refused = post_form(client, PAGE, token, body="  ")
    assert refused.status_code == 400 and "empty note" in refused.text
    assert _notes(plugged, tree.c1.id) == []
    added = post_form(client, PAGE, token, body="họp tổ dân phố")
    assert added.status_code == 303 and added.headers["location"] == PAGE
    assert _notes(plugged, tree.c1.id) == ["họp tổ dân phố"]
    assert "họp tổ dân phố" in client.get(PAGE).text


def test_without_the_page_permission_it_is_refused_audited_and_not_in_the_menu(
    client: TestClient, plugged: Kernel, tree: Tree
) -> None:
    admin = make_admin(plugged, "admin.only", "01", tree.p1.id)  # the kernel's admin role, not notes.writer
    token = console_sign_in(client, admin.username)
    refused = client.get(PAGE)
    assert refused.status_code == 403 and "notes.write" in refused.text
    assert post_form(client, PAGE, token, body="lén").status_code == 403
    assert _notes(plugged, tree.c1.id) == []
    assert "console.plugin_page_refused" in actions(plugged, tree.c1.id)
    assert "/p/notes/" not in client.get("/t/00001/console/").text


def test_the_page_reaches_only_its_own_unit(client: TestClient, plugged: Kernel, tree: Tree, writer: UserInfo) -> None:
    with plugged.db.tenant(tree.c3.id) as session, session.begin():
        session.add(Note(id=1, body="bí mật của Tuyên Quang"))
    token = console_sign_in(client, writer.username)
    assert "bí mật" not in client.get(PAGE).text
    post_form(client, PAGE, token, body="của phường Một")
    assert _notes(plugged, tree.c3.id) == ["bí mật của Tuyên Quang"]
    assert _notes(plugged, tree.c1.id) == ["của phường Một"]
    # the other province's commune, where the plugin is enabled too, is not the writer's to open
    assert client.get("/t/00003/console/p/notes/").status_code == 403


def test_a_plugin_whose_pages_are_wrong_has_none_and_the_console_keeps_working(
    client: TestClient, writer: UserInfo
) -> None:
    console_sign_in(client, writer.username)
    assert client.get("/t/00001/console/p/broken/").status_code == 404
    overview = client.get("/t/00001/console/")
    assert overview.status_code == 200 and "Hỏng" not in overview.text and f'href="{PAGE}"' in overview.text


def test_a_person_without_a_role_there_never_reaches_the_plugin(
    client: TestClient, plugged: Kernel, tree: Tree
) -> None:
    stranger = make_user(plugged, "nguoi.la", "02")
    grant(plugged, stranger, "notes.writer", tree.p2.id)
    console_sign_in(client, stranger.username)
    assert client.get(PAGE).status_code == 403  # the unit binding refuses before any plugin code runs
    assert form_token(client.get("/t/00003/console/p/notes/").text)  # in its own province, the page and its form


def test_a_handler_that_fails_is_a_500_page_and_its_writes_are_rolled_back(
    client: TestClient, plugged: Kernel, tree: Tree, writer: UserInfo
) -> None:
    token = console_sign_in(client, writer.username)
    failed = post_form(client, PAGE + "?boom=1", token, body="nửa chừng")
    assert failed.status_code == 500 and "notes" in failed.text
    assert _notes(plugged, tree.c1.id) == []
    assert client.get(PAGE).status_code == 200  # the next request is served as before


def test_a_post_that_is_not_a_form_is_refused_without_reaching_the_plugin(
    client: TestClient, plugged: Kernel, tree: Tree, writer: UserInfo
) -> None:
    token = console_sign_in(client, writer.username)
    sent = client.post(PAGE, content=b"body=x", headers={"content-type": "text/plain", "x-csrf-token": token})
    assert sent.status_code in (400, 403)
    assert _notes(plugged, tree.c1.id) == []


def test_a_handler_past_its_deadline_is_stopped_and_answered_with_a_500_page(
    client: TestClient, plugged: Kernel, tree: Tree, writer: UserInfo
) -> None:
    token = console_sign_in(client, writer.username)
    stopped = post_form(client, PAGE + "?spin=1", token, body="không bao giờ xong")
    assert stopped.status_code == 500 and "notes" in stopped.text
    assert _notes(plugged, tree.c1.id) == []


def test_every_problem_of_a_pages_answer_is_named(plugged: Kernel) -> None:
    from nentang.kernel.console.plugin_pages import _checked_pages
    from nentang.sdk import ConsolePage, ConsoleView

    def view(_request: object) -> ConsoleView:
        return ConsoleView("x.html")

    bad = [
        ConsolePage("Bad Path", view, {"vi": "x", "en": "x"}, "notes.write"),
        ConsolePage("ok", view, {"vi": "x"}, "kernel.everything", templates="../.."),
        ConsolePage("put", view, {"vi": "x", "en": "x"}, "notes.write", methods=("PUT",)),
    ]
    with pytest.raises(ValueError) as raised:
        _checked_pages(plugged, "notes", bad)
    message = str(raised.value)
    assert "'Bad Path'" in message and "lower-case segments" in message
    assert "'kernel.everything' is not one the plugin declares" in message
    assert "needs a text for each of vi, en" in message
    assert "'../..' is not a folder of the plugin's package" in message
    assert "methods must be GET and/or POST" in message
    with pytest.raises(ValueError, match="must return a list"):
        _checked_pages(plugged, "notes", ConsolePage("", view, {"vi": "x", "en": "x"}, "notes.write"))


def test_the_contract_scan_counts_a_pages_permission_as_checked(tmp_path: Path) -> None:
    from nentang.sdk.testing._scan import permission_uses

    (tmp_path / "pages.py").write_text(
        'VIEW = "demo.view"\n'
        'a = ConsolePage("", h, t, VIEW)\n'
        'b = sdk.ConsolePage("x", h, t, permission="demo.edit")\n'
        'c = ConsolePage("y", h, t, permission=name + ".z")\n'
    )
    uses = permission_uses(tmp_path)
    assert sorted(hit.value for hit in uses.literal) == ["demo.edit", "demo.view"]
    assert [hit.value for hit in uses.dynamic] == ["name + '.z'"]
