"""Fixtures of the runtime-guard corpus: a kernel running ``probe`` (``tests/guard_plugin.py``) at
commune 00001, rows of two tenants in its table and in another plugin's, and a snapshot of what
an attack must leave unchanged."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from sqlalchemy import text

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.runtime import Kernel
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.fixtures.notes_plugin.models import Note
from tests.guard_plugin import PROBE_CODE
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

OPERATOR = Actor.command_line()
#: What an attack may change nowhere: every tenant's rows in the plugin's table and another plugin's,
#: the kernel's grants, events and users.
WATCHED = {
    "notes": "SELECT tenant_id, id, body FROM testnotes_note ORDER BY tenant_id, id",
    "notices": "SELECT tenant_id, title FROM noticeboard_notice ORDER BY tenant_id, title",
    "grants": "SELECT principal, role_id, tenant_id FROM kernel_grant ORDER BY principal, role_id, tenant_id",
    "events": "SELECT count(*) FROM kernel_event",
    "users": "SELECT username, password_hash FROM kernel_user ORDER BY username",
}


@pytest.fixture
def probed(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> Kernel:
    plugin_factory.make("probe", PROBE_CODE)
    kernel = make_kernel()
    kernel.plugins.activation.enable(actor=OPERATOR, plugin="probe", tenant_code="00001", checked=False)
    for tenant in (tree.c1, tree.c2):
        with kernel.db.tenant(tenant.id) as session, session.begin():
            session.add(Note(id=1, body=f"note of {tenant.code}"))
    with kernel.db.owner_engine.begin() as connection:
        for tenant in (tree.c1, tree.c2):
            connection.execute(
                text(
                    "INSERT INTO noticeboard_notice (tenant_id, id, title, body, posted_by, posted_at) "
                    "VALUES (:t, :id, :title, '', 'tests', CURRENT_TIMESTAMP)"
                ),
                {"t": tenant.id, "id": f"{tenant.id:032x}", "title": f"notice of {tenant.code}"},
            )
    return kernel


def snapshot(kernel: Kernel) -> dict[str, Any]:
    """What the database holds, read as its owner (past row-level security)."""
    with kernel.db.owner_engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(query))] for name, query in WATCHED.items()}


def attack_hook(kernel: Kernel, tree: Tree, name: str, target: int | None = None) -> Any:
    """Run attack ``name`` from ``probe``'s event hook at 00001, in a transaction that commits."""
    event = Event(id=1, type="probe.attack", tenant_id=tree.c1.id, payload={"attack": name, "target": target})
    with kernel.db.tenant(tree.c1.id) as session, session.begin():
        kernel.plugins.dispatcher.call_all(
            "nentang_event_received", tenant_ref(tree.c1), actor="system:tests", session=session, event=event
        )
    return results()[-1]


def results() -> list[Any]:
    return sys.modules["nentang_probe.plugin"].RESULTS  # type: ignore[no-any-return]


def sneaked() -> list[Any]:
    return sys.modules["nentang_probe.plugin"].SNEAKED  # type: ignore[no-any-return]
