"""Plugin secrets at rest: sealed in the activation rows with a key outside the database, opened
only for the plugin's own calls at its own tenant; a wrong or malformed key fails loudly."""

from __future__ import annotations

import json
import stat
import sys
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from nentang.kernel.identity.actor import Actor
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.plugins.reseal import reseal_all
from nentang.kernel.plugins.secrets import PREFIX, SecretBox, SecretUnreadable, key_file_of, key_id
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import ValidationFailed
from nentang.sdk.events import Event
from tests.conftest import Tree
from tests.plugin_factory import PluginFactory
from tests.plugin_fixtures import RECORDING_CODE, SETTINGS_SCHEMA, KernelFactory, calls

OPERATOR = Actor.command_line()

SEEING_CODE = """
from nentang.sdk import hookimpl

SEEN = []


@hookimpl
def nentang_event_received(ctx, event):
    SEEN.append((ctx.tenant.code, dict(ctx.settings)))
"""


def seen() -> list[tuple[str, dict[str, Any]]]:
    return sys.modules["nentang_keeper.plugin"].SEEN


def stored_rows(kernel: Kernel) -> dict[int, str]:
    """The settings column as the database holds it (the owner's view, no kernel in between)."""
    with kernel.db.owner_engine.connect() as conn:
        rows = conn.execute(text("SELECT tenant_id, settings FROM kernel_plugin_activation WHERE plugin = 'keeper'"))
        return {tenant_id: settings for tenant_id, settings in rows}


def deliver(kernel: Kernel, tenant: Any) -> None:
    event = Event(id=1, type="test.ping", tenant_id=tenant.id)
    outcomes = kernel.plugins.dispatcher.call_robust(
        "nentang_event_received", tenant_ref(tenant), actor="system:t", event=event
    )
    for outcome in outcomes:  # every plugin ran; the first failure, if any, is raised
        if outcome.error is not None:
            raise outcome.error


def enable(kernel: Kernel, code: str, **settings: Any) -> None:
    kernel.plugins.activation.enable(
        actor=OPERATOR, plugin="keeper", tenant_code=code, settings=settings, checked=False
    )


@pytest.fixture
def keeper(plugin_factory: PluginFactory, make_kernel: KernelFactory, tree: Tree) -> KernelFactory:
    plugin_factory.make("keeper", SEEING_CODE, settings_schema=SETTINGS_SCHEMA)
    return make_kernel


def test_secrets_are_sealed_in_the_database_and_each_tenant_sees_its_own(keeper: KernelFactory, tree: Tree) -> None:
    kernel = keeper()
    enable(kernel, "00001", api_key="s3cret-of-one", greeting="xin chào")
    enable(kernel, "00002", api_key="s3cret-of-two")
    rows = stored_rows(kernel)
    assert set(rows) == {tree.c1.id, tree.c2.id}
    for stored in rows.values():
        assert "s3cret" not in stored and PREFIX in stored
    assert "xin chào" in rows[tree.c1.id]  # only secrets are sealed
    deliver(kernel, tree.c1)
    deliver(kernel, tree.c2)
    assert seen() == [
        ("00001", {"api_key": "s3cret-of-one", "greeting": "xin chào"}),
        ("00002", {"api_key": "s3cret-of-two"}),
    ]
    # one tenant's sealed value is not another tenant's to copy: envelopes are refused as input
    envelope = rows[tree.c1.id].split('"api_key":"')[1].split('"')[0]
    with pytest.raises(ValidationFailed, match="reserved for sealed secrets") as refused:
        kernel.plugins.activation.update_settings(
            actor=OPERATOR, plugin="keeper", tenant_code="00002", settings={"api_key": envelope}, checked=False
        )
    assert refused.value.code == "plugin.settings"
    with pytest.raises(ValidationFailed, match="reserved"):
        enable(kernel, "00003", greeting=envelope)


def test_a_worker_with_another_key_fails_clearly_instead_of_reading_nothing(
    plugin_factory: PluginFactory, keeper: KernelFactory, tree: Tree
) -> None:
    plugin_factory.make("alpha", RECORDING_CODE)  # a neighbour without secrets at the same tenant
    first = Fernet.generate_key().decode()
    writer = keeper(secrets_key=first)
    enable(writer, "00001", api_key="s3cret")
    writer.plugins.activation.enable(actor=OPERATOR, plugin="alpha", tenant_code="00001", checked=False)
    other = keeper(secrets_key=Fernet.generate_key().decode())
    with pytest.raises(SecretUnreadable, match=key_id(first.encode())) as unreadable:
        deliver(other, tree.c1)
    assert unreadable.value.code == "secrets.unreadable"
    assert seen() == []
    assert ("event", "00001", "test.ping") in calls("alpha")  # the other plugin was still served


def test_a_damaged_secret_is_reported_not_decrypted(keeper: KernelFactory, tree: Tree) -> None:
    kernel = keeper()
    enable(kernel, "00001", api_key="s3cret")
    stored = json.loads(stored_rows(kernel)[tree.c1.id])
    envelope = stored["api_key"]
    cut = len(PREFIX) + 12 + 1 + 20  # inside the token, past the key id
    damaged = json.dumps({"api_key": envelope[:cut] + ("B" if envelope[cut] != "B" else "C") + envelope[cut + 1 :]})
    with kernel.db.owner_engine.begin() as conn:
        conn.execute(text("UPDATE kernel_plugin_activation SET settings = :s WHERE plugin = 'keeper'"), {"s": damaged})
    kernel.plugins.dispatcher.activations.evict(tree.c1.id)
    with pytest.raises(SecretUnreadable, match="damaged"):
        deliver(kernel, tree.c1)


def test_rotation_new_key_first_then_reseal_then_drop_the_old_key(keeper: KernelFactory, tree: Tree) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    enable(keeper(secrets_key=old), "00001", api_key="s3cret")
    both = keeper(secrets_key=f"{new}, {old}")
    deliver(both, tree.c1)  # the old key still opens
    assert reseal_all(both.db, both.plugins.host, both.plugins.secrets) == (1, [])
    assert f"{PREFIX}{key_id(new.encode())}:" in stored_rows(both)[tree.c1.id]
    assert reseal_all(both.db, both.plugins.host, both.plugins.secrets) == (0, [])  # nothing left to do
    deliver(keeper(secrets_key=new), tree.c1)  # the new key alone suffices now
    assert [settings["api_key"] for _, settings in seen()] == ["s3cret", "s3cret"]


def test_plaintext_rows_from_before_are_read_then_sealed(keeper: KernelFactory, tree: Tree) -> None:
    kernel = keeper()
    enable(kernel, "00001", greeting="chào")
    with kernel.db.owner_engine.begin() as conn:  # a row as written before sealing existed
        conn.execute(text("""UPDATE kernel_plugin_activation SET settings = '{"api_key":"old-plain"}'"""))
    kernel.plugins.dispatcher.activations.evict(tree.c1.id)
    deliver(kernel, tree.c1)
    assert seen()[-1] == ("00001", {"api_key": "old-plain"})
    assert reseal_all(kernel.db, kernel.plugins.host, kernel.plugins.secrets) == (1, [])
    assert "old-plain" not in stored_rows(kernel)[tree.c1.id]
    kernel.plugins.dispatcher.activations.evict(tree.c1.id)
    deliver(kernel, tree.c1)
    assert seen()[-1] == ("00001", {"api_key": "old-plain"})


def test_development_generates_a_private_key_file_in_the_instance_folder(settings: Settings, tmp_path: Any) -> None:
    local = settings.with_overrides(secrets_key_file=tmp_path / "instance" / "secrets.key")
    first = SecretBox.for_settings(local)
    path = key_file_of(local)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal({"token": "abc"})
    assert SecretBox.for_settings(local).open(sealed) == {"token": "abc"}  # the same key next time
    if settings.is_sqlite:  # by default the file lives beside the database, never in it
        assert key_file_of(settings).parent == key_file_of(settings.with_overrides()).parent


def test_production_refuses_to_start_without_a_key_or_with_a_bad_one(settings: Settings) -> None:
    keyless = create_kernel(settings.with_overrides(mode="production"))
    try:  # one-shot commands that touch no secret still run; serving does not start
        with pytest.raises(ValidationFailed, match="NENTANG_SECRETS_KEY is required in production") as missing:
            keyless.start()
        assert missing.value.code == "secrets.key"
        with pytest.raises(ValidationFailed, match="NENTANG_SECRETS_KEY is required"):
            keyless.plugins.secrets.seal("s3cret")
    finally:
        keyless.close()
    for bad in ("not-a-key", "c2hvcnQ=", " , "):
        environ = {"NENTANG_DATABASE_URL": settings.database_url, "NENTANG_SECRETS_KEY": bad}
        with pytest.raises(ValidationFailed, match="NENTANG_SECRETS_KEY") as refused:
            create_kernel(Settings.from_environ(environ))
        assert refused.value.code == "secrets.key"
