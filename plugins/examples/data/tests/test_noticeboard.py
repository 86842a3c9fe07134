"""Tests of the noticeboard example: rows written by the enable hook, read back per tenant."""

from __future__ import annotations

import pytest
from nentang_noticeboard import board

from nentang.sdk.testing import RunningKernel, TenantTree


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


@pytest.mark.nentang_contract("noticeboard")
def test_noticeboard_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body: tables isolated, migrations, lifecycle, ..."""
