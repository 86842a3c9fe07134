"""Tests of the journal example: an event emitted on enable, and idempotent handling."""

from __future__ import annotations

import pytest
from nentang_journal import journal

from nentang.sdk.testing import HookRecorder, RunningKernel, TenantTree


@pytest.mark.nentang_plugins("journal")
def test_enabling_emits_journal_opened_and_the_journal_writes_it_down(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree, nentang_hooks: HookRecorder
) -> None:
    assert [e.type for e in nentang_hooks.events(nentang_tree.commune, type="journal.*")] == ["journal.opened"]
    nentang_kernel.deliver_events()  # what the event runner does in a server
    with nentang_kernel.session() as session:
        assert "journal.opened" in [entry.type for entry in journal.entries(session)]


@pytest.mark.nentang_plugins("journal")
def test_an_event_delivered_twice_is_written_once(nentang_kernel: RunningKernel, nentang_hooks: HookRecorder) -> None:
    nentang_kernel.emit("kernel.tenant.renamed", {"name": "Phường Một mới"})
    nentang_kernel.deliver_events()
    event = nentang_hooks.events(type="kernel.tenant.renamed")[0]
    nentang_kernel.call_hook("nentang_event_received", event=event)  # at-least-once: it may come again
    with nentang_kernel.session() as session:
        assert [entry.event_id for entry in journal.entries(session)].count(event.id) == 1


@pytest.mark.nentang_plugins("journal", settings={"journal": {"only": ["journal."]}})
def test_the_settings_choose_which_events_are_kept(nentang_kernel: RunningKernel) -> None:
    nentang_kernel.emit("kernel.tenant.renamed", {"name": "Phường Một mới"})
    nentang_kernel.deliver_events()
    with nentang_kernel.session() as session:
        assert [entry.type for entry in journal.entries(session)] == ["journal.opened"]


@pytest.mark.nentang_plugins("journal")
def test_events_of_a_commune_where_journal_is_not_enabled_never_reach_it(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree, nentang_hooks: HookRecorder
) -> None:
    nentang_kernel.emit("kernel.tenant.renamed", {"name": "Phường Hai mới"}, tenant=nentang_tree.other_commune)
    nentang_kernel.deliver_events()
    assert not nentang_hooks.called("nentang_event_received", tenant=nentang_tree.other_commune)
    with nentang_kernel.session(nentang_tree.other_commune) as session:
        assert journal.entries(session) == []


@pytest.mark.nentang_contract("journal")
def test_journal_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body."""
