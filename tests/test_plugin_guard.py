"""The runtime guard against a hostile plugin's hook (#12 items 3 and 5): every statement outside the
plugin's tables, every string of SQL and every configuration function is refused while its code
runs — and nothing changes; re-scoping its session reaches no other tenant; its context leads to
no kernel service. The same corpus through GraphQL: ``test_plugin_guard_graphql.py``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import CrossTenantWrite, ScopeViolation
from tests.conftest import ON_POSTGRES, Tree
from tests.guard_fixtures import attack_hook, snapshot, sneaked
from tests.guard_plugin import REFUSED, UNREACHABLE
from tests.identity_fixtures import identity_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


def test_the_plugin_reads_its_own_rows_and_only_its_tenants(probed: Kernel, tree: Tree) -> None:
    assert attack_hook(probed, tree, "own_rows") == repr(["note of 00001"])


def test_the_guard_leaves_a_plugin_its_own_table_and_the_allowed_functions(probed: Kernel, tree: Tree) -> None:
    counted = (1, 13, "note of 00001")
    assert attack_hook(probed, tree, "own_functions") == repr((counted, "note of 00001", ["added", "note of 00001"]))
    mine = [n for n in snapshot(probed)["notes"] if n[0] == tree.c1.id]
    assert mine == [(tree.c1.id, 1, "note of 00001"), (tree.c1.id, 5, "added")]


def test_changes_left_by_a_failed_call_are_still_checked_as_the_plugins(probed: Kernel, tree: Tree) -> None:
    from nentang.kernel.plugins.context import tenant_ref
    from nentang.sdk.events import Event

    before = snapshot(probed)
    event = Event(id=1, type="probe.attack", tenant_id=tree.c1.id, payload={"attack": "add_then_fail"})
    with (
        probed.db.tenant(tree.c1.id) as session,
        pytest.raises(ScopeViolation, match="change to table kernel_grant"),
        session.begin(),
        pytest.raises(RuntimeError, match="on purpose"),  # the kernel's caller shrugs, and commits
    ):
        probed.plugins.dispatcher.call_all(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:tests", session=session, event=event
        )
    assert snapshot(probed) == before


@pytest.mark.parametrize("attack", sorted(REFUSED))
def test_each_way_around_the_guard_is_refused_and_changes_nothing(probed: Kernel, tree: Tree, attack: str) -> None:
    before = snapshot(probed)
    with pytest.raises(ScopeViolation) as refused:
        attack_hook(probed, tree, attack)
    message = str(refused.value)
    assert refused.value.code == "plugin.statement_refused", message
    assert message.startswith("plugin 'probe' (nentang_event_received) may not use "), message
    words = REFUSED[attack]
    assert any(w in message for w in ((words,) if isinstance(words, str) else words)), message
    assert snapshot(probed) == before


@pytest.mark.parametrize("attack", [a for a in UNREACHABLE if a.startswith("ctx_")])
def test_the_context_has_no_attribute_leading_to_the_kernel(probed: Kernel, tree: Tree, attack: str) -> None:
    with pytest.raises(AttributeError, match=attack.removeprefix("ctx").replace("private_", "")):
        attack_hook(probed, tree, attack)


def test_rewriting_session_info_widens_nothing(probed: Kernel, tree: Tree) -> None:
    before = snapshot(probed)
    assert attack_hook(probed, tree, "rescope") == repr(["note of 00001"])
    assert sneaked() == []  # a callback planted in session.info never runs as the kernel's
    with pytest.raises(CrossTenantWrite, match=f"tenant {tree.c2.id}"):
        attack_hook(probed, tree, "rescope_write", target=tree.c2.id)
    assert snapshot(probed) == before
    assert attack_hook(probed, tree, "rescope_write_own") == "written"
    notes = snapshot(probed)["notes"]
    assert (tree.c1.id, 78, "mine") in notes and [n for n in notes if n[0] == tree.c2.id] == [
        (tree.c2.id, 1, "note of 00002")
    ]


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: the transaction settings of row-level security")
def test_rewriting_connection_info_leaves_the_row_level_security_settings_alone(probed: Kernel, tree: Tree) -> None:
    from nentang.kernel.plugins.context import tenant_ref
    from nentang.sdk.events import Event

    event = Event(id=1, type="probe.attack", tenant_id=tree.c1.id, payload={"attack": "rescope"})
    with probed.db.tenant(tree.c1.id) as session, session.begin():
        probed.plugins.dispatcher.call_all(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:tests", session=session, event=event
        )
        # the kernel's code again, in the same transaction, on the connection the plugin rewrote
        assert session.execute(text("SELECT current_setting('nentang.read_tenants')")).scalar() == str(tree.c1.id)
        assert session.execute(text("SELECT current_setting('nentang.write_tenant')")).scalar() == str(tree.c1.id)
        assert session.execute(text("SELECT body FROM testnotes_note")).scalars().all() == ["note of 00001"]
