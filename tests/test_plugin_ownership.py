"""Which tables a plugin may touch (``kernel/plugins/ownership.py``): its own, by class, by migration
and by import of a model nobody else owns, and those of the plugins it requires — never a kernel
table or another plugin's, whatever its own classes call them."""

from __future__ import annotations

import sys
from pathlib import Path

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.host import PluginHost
from nentang.kernel.plugins.ownership import plugin_tables
from nentang.kernel.plugins.running import current_call
from nentang.sdk.events import Event
from nentang.sdk.version import __version__ as sdk_version
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import KernelFactory

MODELS = """
from sqlalchemy import Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()  # a metadata of its own: it may name any table without a clash


class Thing(Base):
    __tablename__ = "alpha_thing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Users(Base):  # a kernel table, described by the plugin's own class
    __tablename__ = "kernel_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Theirs(Base):  # another plugin's table
    __tablename__ = "beta_secret"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Unprefixed(Base):  # not named after the plugin: the review's contract refuses it, so does this
    __tablename__ = "shared_stuff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
"""

ALPHA = """
from nentang.sdk import hookimpl
from nentang.kernel.plugins.running import current_call
from nentang_alpha import models
from tests.fixtures.notes_plugin.models import Note

SEEN = []


@hookimpl
def nentang_event_received(ctx, event):
    SEEN.append(current_call())
"""

MIGRATION = """
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table("alpha_log", sa.Column("id", sa.Integer))
    op.create_table("kernel_grant", sa.Column("id", sa.Integer))
"""


def test_a_plugin_owns_its_classes_migrations_and_unowned_imports_and_what_it_requires(
    plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make(
        "alpha",
        ALPHA,
        extra_files={"models.py": MODELS, "migrations/__init__.py": "", "migrations/a0001.py": MIGRATION},
    )
    info = plugin_factory.root / "nentang_alpha-0.1.0.dist-info" / "entry_points.txt"
    info.write_text(info.read_text() + "\n[nentang.migrations]\nalpha = nentang_alpha.migrations\n")
    plugin_factory.make("beta", "from nentang.sdk import hookimpl\n", requires={"alpha": ">=0.1"})
    plugin_factory.make("gamma")
    kernel = make_kernel()

    tables = kernel.plugins.host.tables
    assert tables["alpha"] == {"alpha_thing", "alpha_log", "testnotes_note"}
    assert tables["beta"] == tables["alpha"]  # it requires alpha, and owns nothing itself
    assert tables["gamma"] == frozenset()
    assert current_call() is None

    kernel.plugins.activation.enable(actor=Actor.command_line(), plugin="alpha", tenant_code="00001", checked=False)
    seen = sys.modules["nentang_alpha.plugin"].SEEN
    event = Event(id=1, type="test.ping", tenant_id=tree.c1.id)
    kernel.plugins.dispatcher.call_all(
        "nentang_event_received", tenant_ref(tree.c1), actor="system:t", session=None, event=event
    )
    (call,) = seen
    assert (call.plugin, call.tenant_id, call.entry) == ("alpha", tree.c1.id, "nentang_event_received")
    assert call.tables == tables["alpha"]


def test_the_first_party_plugins_own_their_tables_and_digest_reads_feedbacks() -> None:
    registry = Path(__file__).resolve().parent.parent / "registry.toml"
    host = PluginHost(mode="production", registry_path=registry, sdk_version=sdk_version)
    host.scan()
    assert {"feedback", "digest", "noticeboard", "journal"} <= set(host.plugins)
    tables = plugin_tables(host.plugins)
    assert tables["feedback"] == {"feedback_item"}
    assert tables["digest"] == {"feedback_item"}
    assert tables["noticeboard"] == {"noticeboard_notice"}
    assert tables["journal"] == {"journal_entry"}
    assert host.tables == tables
