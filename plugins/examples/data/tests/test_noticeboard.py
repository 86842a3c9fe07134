"""Tests of the noticeboard example: rows written by the enable hook, read back per tenant."""

from __future__ import annotations

import pytest
from nentang_noticeboard import board

from nentang.sdk.testing import MakeUser, RunningKernel, TenantTree

PAGE = "/t/00001/console/p/noticeboard/"


@pytest.mark.nentang_plugins("noticeboard")
def test_enabling_opens_the_board_with_a_welcome_notice(nentang_kernel: RunningKernel) -> None:
    with nentang_kernel.session() as session:  # bound to the commune 00001
        assert [n.title for n in board.latest(session)] == ["Bảng tin của Phường Một đã mở"]


@pytest.mark.nentang_plugins("noticeboard", settings={"noticeboard": {"welcome": "Lịch tiếp dân tuần này"}})
def test_the_welcome_notice_comes_from_the_settings(nentang_kernel: RunningKernel) -> None:
    with nentang_kernel.session() as session:
        assert [n.title for n in board.latest(session)] == ["Lịch tiếp dân tuần này"]


@pytest.mark.nentang_plugins("noticeboard")
def test_a_commune_never_sees_another_communes_notices(nentang_kernel: RunningKernel, nentang_tree: TenantTree) -> None:
    with nentang_kernel.context("noticeboard") as ctx:
        board.post(ctx.session, title="Cắt điện thứ Bảy", posted_by=ctx.actor)
    with nentang_kernel.session(nentang_tree.other_commune) as session:
        assert board.count(session) == 0
    with nentang_kernel.session(nentang_tree.commune) as session:
        assert board.count(session) == 2


@pytest.mark.nentang_plugins("noticeboard")
def test_disable_keeps_the_notices_and_enable_adds_no_second_welcome(nentang_kernel: RunningKernel) -> None:
    nentang_kernel.disable("noticeboard")
    nentang_kernel.enable("noticeboard")
    with nentang_kernel.session() as session:
        assert board.count(session) == 1


@pytest.mark.nentang_plugins("noticeboard")
def test_an_editor_posts_a_notice_on_the_console_page(nentang_kernel: RunningKernel, nentang_user: MakeUser) -> None:
    browser = nentang_kernel.headers_for(nentang_user("noticeboard.editor"))  # a session, its CSRF token
    posted = nentang_kernel.http.post(PAGE, data={"title": "Họp tổ dân phố"}, headers=browser, follow_redirects=False)
    assert posted.status_code == 303
    page = nentang_kernel.http.get(PAGE, headers=browser)
    assert page.status_code == 200 and "<td>Họp tổ dân phố</td>" in page.text and "<h1>Bảng tin</h1>" in page.text
    blank = nentang_kernel.http.post(PAGE, data={"title": "  "}, headers=browser)
    assert blank.status_code == 400 and "error-summary" in blank.text
    with nentang_kernel.session() as session:
        assert board.count(session) == 2  # the welcome notice and the one posted


@pytest.mark.nentang_plugins("noticeboard")
def test_a_reader_sees_the_board_but_cannot_post(nentang_kernel: RunningKernel, nentang_user: MakeUser) -> None:
    browser = nentang_kernel.headers_for(nentang_user("noticeboard.reader"))
    page = nentang_kernel.http.get(PAGE, headers=browser)
    assert page.status_code == 200 and 'name="title"' not in page.text
    assert nentang_kernel.http.post(PAGE, data={"title": "Lén"}, headers=browser).status_code == 403
    with nentang_kernel.session() as session:
        assert board.count(session) == 1


@pytest.mark.nentang_plugins("noticeboard")
def test_the_board_page_does_not_exist_where_the_plugin_is_not_enabled(
    nentang_kernel: RunningKernel, nentang_user: MakeUser, nentang_tree: TenantTree
) -> None:
    neighbour = nentang_kernel.headers_for(nentang_user("noticeboard.editor", tenant=nentang_tree.other_commune))
    console = f"/t/{nentang_tree.other_commune.code}/console/"
    assert nentang_kernel.http.get(console + "p/noticeboard/", headers=neighbour).status_code == 404
    assert "/p/noticeboard/" not in nentang_kernel.http.get(console, headers=neighbour).text


@pytest.mark.nentang_contract("noticeboard")
def test_noticeboard_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body: tables isolated, migrations, lifecycle, ..."""
