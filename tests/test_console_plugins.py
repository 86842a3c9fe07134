"""The console's Plugins page: the catalogue (approval, levels, permissions, quarantine with its
reason), enable and disable at one unit (not its neighbour), settings through a form generated from
the plugin's schema (per-field errors, nothing saved on error), and every refusal: another unit's
post (404), a missing permission (the reason on the page), a missing CSRF token (403)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, post_form
from tests.identity_fixtures import audit_entries, changes, make_admin, make_user
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, KernelFactory
from tests.test_graphql_plugins_admin import BROKEN_CODE, state, stored_settings

settings = console_fixtures.settings

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["greeting"],
    "properties": {
        "greeting": {"type": "string", "minLength": 2, "title": "Lời chào", "description": "Hiện trên trang chủ"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Giới hạn"},
        "ratio": {"type": "number"},
        "public": {"type": "boolean", "title": "Công khai"},
        "colour": {"enum": ["xanh", "đỏ"], "title": "Màu"},
        "api_key": {"type": "string", "writeOnly": True},
    },
    "additionalProperties": False,
}
PERMISSIONS = [{"name": "alpha.read", "description": "Read alpha"}]


@pytest.fixture
def plugged(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("alpha", RECORDING_CODE, settings_schema=SCHEMA, permissions=PERMISSIONS)
    plugin_factory.make("communal", levels=["commune"])
    plugin_factory.make("broken", BROKEN_CODE)
    kernel = make_kernel()
    make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    return kernel


@pytest.fixture
def browser(plugged: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(plugged), base_url="https://testserver", raise_server_exceptions=False) as http:
        yield http


def state_of(page: str, plugin: str) -> str:
    found = re.search(rf'<tr id="plugin-{plugin}">.*?data-state="(\w+)"', page, re.S)
    assert found is not None, f"no row for {plugin}"
    return found.group(1)


def enabled_at(kernel: Kernel, code: str) -> set[str]:
    return {v.plugin for v in kernel.plugins.activation.list(code) if v.enabled}


def test_the_catalogue_shows_approval_levels_permissions_and_quarantine(browser: TestClient, plugged: Kernel) -> None:
    console_sign_in(browser, "admin.hanoi")
    assert 'href="/t/01/console/plugins"' in browser.get("/t/01/console/").text  # the menu entry
    page = browser.get("/t/01/console/plugins?unit=00001")
    assert page.status_code == 200 and "Tiện ích tại Phường Một" in page.text
    text = html.unescape(page.text)
    assert state_of(page.text, "alpha") == "disabled" and 'id="enable-alpha"' in page.text
    assert re.search(r'<tr id="plugin-alpha">.*?data-approval="unapproved"', page.text, re.S)
    assert "alpha.read</code> – Read alpha" in text and "Tiện ích alpha" in text
    assert state_of(page.text, "broken") == "quarantined" and "cannot load the form templates" in text
    assert 'id="enable-broken"' not in page.text
    province = browser.get("/t/01/console/plugins").text  # "communal" is for communes only
    assert 'id="enable-communal"' not in province and "Không dành cho cấp đơn vị này." in province
    assert 'id="enable-communal"' in page.text
    assert re.search(r'<tr id="plugin-communal">.*?<td>cấp xã</td>', page.text, re.S)  # levels in Vietnamese
    assert "Plugins at Phường Một" in browser.get("/t/01/console/plugins?unit=00001&lang=en").text


def test_enable_at_one_commune_not_its_neighbour_then_disable(browser: TestClient, plugged: Kernel, tree: Tree) -> None:
    token = console_sign_in(browser, "admin.hanoi")
    done = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="00001")
    assert done.status_code == 303 and done.headers["location"] == "/t/01/console/plugins?unit=00001"
    assert "communal" in enabled_at(plugged, "00001") and "communal" not in enabled_at(plugged, "00002")
    assert state_of(browser.get(done.headers["location"]).text, "communal") == "enabled"
    assert state_of(browser.get("/t/01/console/plugins?unit=00002").text, "communal") == "disabled"
    assert audit_entries(plugged, tree.c1.id)[-1][:3] == ("plugin.enable", f"user:{_id(plugged)}", "communal")
    again = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="00001")
    assert again.status_code == 409 and "Tiện ích đã được bật ở đây" in again.text  # a double post
    gone = post_form(browser, "/t/01/console/plugins/communal/disable", token, unit="00001")
    assert gone.status_code == 303 and "communal" not in enabled_at(plugged, "00001")
    assert audit_entries(plugged, tree.c1.id)[-1][0] == "plugin.disable"


def _id(kernel: Kernel) -> int:
    return kernel.users.get("admin.hanoi").id


def _settings_url(code: str = "00001") -> str:
    return f"/t/01/console/plugins/alpha/settings?unit={code}"


def test_settings_form_generated_from_the_schema_errors_per_field_then_saved(
    browser: TestClient, plugged: Kernel, tree: Tree
) -> None:
    token = console_sign_in(browser, "admin.hanoi")
    enabled = post_form(browser, "/t/01/console/plugins/alpha/enable", token, unit="00001")
    assert enabled.status_code == 400 and "Thiết lập của tiện ích còn thiếu" in enabled.text  # "greeting" is required
    assert "alpha" not in enabled_at(plugged, "00001")
    first = browser.get(_settings_url())
    assert first.status_code == 200 and 'id="save-settings">Lưu và bật<' in first.text  # not on yet
    saved_first = post_form(
        browser, "/t/01/console/plugins/alpha/settings", token, unit="00001", **{"setting-greeting": "Xin chào"}
    )
    assert saved_first.status_code == 303 and "alpha" in enabled_at(plugged, "00001")  # saving enabled it
    assert "alpha" not in enabled_at(plugged, "00002")
    form = browser.get(_settings_url())
    assert form.status_code == 200 and 'id="save-settings">Lưu thiết lập<' in form.text
    for field in ("greeting", "limit", "ratio", "public", "colour", "api_key"):
        assert f'id="setting-{field}"' in form.text
    assert '<label class="label" for="setting-greeting">Lời chào</label>' in form.text
    assert 'id="setting-greeting-hint">Hiện trên trang chủ' in form.text
    assert 'type="checkbox" id="setting-public"' in form.text and 'type="password"' in form.text
    assert 'value="Xin chào"' in form.text
    before = state(plugged, tree)
    bad = post_form(
        browser,
        "/t/01/console/plugins/alpha/settings",
        token,
        unit="00001",
        **{"setting-greeting": "X", "setting-limit": "500", "setting-colour": "xanh"},
    )
    assert bad.status_code == 400 and 'class="error-summary"' in bad.text
    assert 'id="setting-greeting-error"' in bad.text and "Nhập ít nhất 2 ký tự" in bad.text
    assert 'id="setting-limit-error"' in bad.text and "Nhập số không lớn hơn 100" in bad.text
    assert 'href="#setting-limit"' in bad.text and 'value="500"' in bad.text  # kept as typed
    assert state(plugged, tree) == before  # nothing saved, nothing audited
    typo = post_form(browser, "/t/01/console/plugins/alpha/settings", token, unit="00001", **{"setting-limit": "mười"})
    assert typo.status_code == 400 and "Nhập số nguyên" in typo.text and state(plugged, tree) == before
    empty = post_form(browser, "/t/01/console/plugins/alpha/settings", token, unit="00001", **{"setting-greeting": ""})
    assert empty.status_code == 400 and 'id="setting-greeting-error"' in empty.text
    assert "Nhập giá trị: thiết lập này là bắt buộc" in empty.text and state(plugged, tree) == before
    good = post_form(
        browser,
        "/t/01/console/plugins/alpha/settings",
        token,
        unit="00001",
        **{
            "setting-greeting": "Chào",
            "setting-limit": "7",
            "setting-ratio": "2,5",
            "setting-public": "on",
            "setting-colour": "đỏ",
            "setting-api_key": "k-1",
        },
    )
    assert good.status_code == 303 and good.headers["location"].endswith("saved=1")
    saved = {"greeting": "Chào", "limit": 7, "ratio": 2.5, "public": True, "colour": "đỏ", "api_key": "k-1"}
    assert stored_settings(plugged, tree.c1.id, "alpha") == saved
    shown = browser.get(good.headers["location"]).text
    assert 'id="settings-saved"' in shown and "k-1" not in shown  # the secret never comes back
    kept = post_form(
        browser,
        "/t/01/console/plugins/alpha/settings",
        token,
        unit="00001",
        **{"setting-greeting": "Chào", "setting-limit": "8"},
    )
    assert kept.status_code == 303
    assert stored_settings(plugged, tree.c1.id, "alpha") == {
        "greeting": "Chào",
        "limit": 8,
        "public": False,
        "api_key": "k-1",
    }
    assert changes(plugged, tree.c1.id)[-1] == "plugin.settings"


def test_a_commune_admin_forging_a_post_for_another_unit_changes_nothing(
    browser: TestClient, plugged: Kernel, tree: Tree
) -> None:
    make_admin(plugged, "admin.mot", "00001", tree.c1.id)
    token = console_sign_in(browser, "admin.mot")
    before = state(plugged, tree)
    for path in ("communal/enable", "communal/disable", "alpha/settings"):
        forged = post_form(browser, f"/t/00001/console/plugins/{path}", token, unit="00002")
        assert forged.status_code == 404, path
    assert browser.get("/t/00001/console/plugins?unit=00002").status_code == 404
    assert browser.get("/t/00002/console/plugins").status_code == 403  # not its unit at all
    after = state(plugged, tree)
    assert after[:2] == before[:2] and after[2]["00002"] == before[2]["00002"]  # no change audited there
    assert "console.refused" in [a for a, *_ in audit_entries(plugged, tree.c2.id)]


def test_without_the_permission_the_page_says_why_and_nothing_changes(
    browser: TestClient, plugged: Kernel, tree: Tree
) -> None:
    make_admin(plugged, "xem.hanoi", "01", tree.p1.id, role="viewer")
    token = console_sign_in(browser, "xem.hanoi")
    page = browser.get("/t/01/console/plugins")
    assert page.status_code == 403 and "kernel.plugins.manage" in html.unescape(page.text)
    before = state(plugged, tree)
    refused = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="00001")
    assert refused.status_code == 403 and "Bạn không có quyền làm việc này" in refused.text
    assert "kernel.plugins.manage" in html.unescape(refused.text)
    assert state(plugged, tree)[:2] == before[:2] and "communal" not in enabled_at(plugged, "00001")
    garbled = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="x" * 70_000)
    assert garbled.status_code == 403 and 'id="plugins"' not in garbled.text  # a bad form shows no list either
    assert "Bạn không có quyền làm việc này" in garbled.text


def test_a_post_without_its_csrf_token_is_refused(browser: TestClient, plugged: Kernel, tree: Tree) -> None:
    console_sign_in(browser, "admin.hanoi")
    make_user(plugged, "nobody", "01")
    for token in (None, "forged"):
        response = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="00001")
        assert response.status_code == 403 and "Biểu mẫu đã hết hạn" in response.text
    assert "communal" not in enabled_at(plugged, "00001")


def test_a_plugin_quarantined_at_a_commune_shows_why_and_is_released_there_only(
    browser: TestClient, plugged: Kernel, tree: Tree
) -> None:
    for tenant in (tree.c1, tree.c2):
        for _ in range(plugged.plugins.budget.budget):
            plugged.plugins.budget.failed("communal", tenant_ref(tenant), RuntimeError("the SMS gateway is down"))
    token = console_sign_in(browser, "admin.hanoi")
    page = browser.get("/t/01/console/plugins?unit=00001")
    assert state_of(page.text, "communal") == "quarantined" and "the SMS gateway is down" in page.text
    assert 'id="release-communal"' in page.text
    done = post_form(browser, "/t/01/console/plugins/communal/release", token, unit="00001")
    assert done.status_code == 303 and done.headers["location"] == "/t/01/console/plugins?unit=00001"
    assert state_of(browser.get("/t/01/console/plugins?unit=00001").text, "communal") == "disabled"
    assert state_of(browser.get("/t/01/console/plugins?unit=00002").text, "communal") == "quarantined"
    assert audit_entries(plugged, tree.c1.id)[-1][:3] == ("plugin.release", f"user:{_id(plugged)}", "communal")
    make_admin(plugged, "admin.mot", "00001", tree.c1.id)
    other = console_sign_in(browser, "admin.mot")
    forged = post_form(browser, "/t/00001/console/plugins/communal/release", other, unit="00002")
    assert forged.status_code == 404
    views = {v.plugin: v for v in plugged.plugins.activation.list("00002")}
    assert views["communal"].quarantined and "the SMS gateway is down" in views["communal"].quarantined


def test_a_province_forbids_then_locks_a_plugin_for_its_communes(
    browser: TestClient, plugged: Kernel, tree: Tree
) -> None:
    token = console_sign_in(browser, "admin.hanoi")
    forbid = post_form(browser, "/t/01/console/plugins/communal/policy", token, unit="01", allowed="no")
    assert forbid.status_code == 303 and forbid.headers["location"] == "/t/01/console/plugins?unit=01"
    assert 'data-allowed="no"' in browser.get("/t/01/console/plugins").text
    commune = browser.get("/t/01/console/plugins?unit=00001").text
    assert "Bị 01 không cho phép tại đây." in commune
    before = state(plugged, tree)
    refused = post_form(browser, "/t/01/console/plugins/communal/enable", token, unit="00001")
    assert refused.status_code == 403 and "không cho phép tiện ích này ở đây" in refused.text
    assert state(plugged, tree) == before
    bad = post_form(browser, "/t/01/console/plugins/communal/policy", token, unit="01", allowed="maybe")
    assert bad.status_code == 400 and "Chọn điều cần thay đổi" in bad.text and state(plugged, tree) == before
    assert (
        post_form(browser, "/t/01/console/plugins/communal/policy", token, unit="01", allowed="yes").status_code == 303
    )
    lock = post_form(browser, "/t/01/console/plugins/communal/policy", token, unit="01", locked="yes")
    assert lock.status_code == 303
    assert "communal" in enabled_at(plugged, "00001") and "communal" in enabled_at(plugged, "00002")
    assert "communal" not in enabled_at(plugged, "00003")  # another province's commune
    assert "Được 01 khóa bật." in browser.get("/t/01/console/plugins?unit=00002").text
    kept = post_form(browser, "/t/01/console/plugins/communal/disable", token, unit="00002")
    assert kept.status_code == 403 and "khóa bật tiện ích này ở đây" in kept.text
    assert "communal" in enabled_at(plugged, "00002")
    assert post_form(browser, "/t/01/console/plugins/communal/policy", token, unit="01", locked="no").status_code == 303
    assert post_form(browser, "/t/01/console/plugins/communal/disable", token, unit="00002").status_code == 303
    assert [a for a, *_ in audit_entries(plugged, tree.p1.id)].count("plugin.policy") == 4


def test_a_commune_admin_cannot_set_its_provinces_rule(browser: TestClient, plugged: Kernel, tree: Tree) -> None:
    make_admin(plugged, "admin.mot", "00001", tree.c1.id)
    token = console_sign_in(browser, "admin.mot")
    before = state(plugged, tree)
    for unit in ("01", "00003"):
        forged = post_form(browser, "/t/00001/console/plugins/communal/policy", token, unit=unit, allowed="no")
        assert forged.status_code == 404, unit
    assert state(plugged, tree)[:2] == before[:2]
