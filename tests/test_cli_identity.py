"""Operator commands for users and tokens, and the first administrator the demo makes.

The commands build their own kernel from ``NENTANG_*`` (as in production), so their password hashes
use the default argon2 cost; the few tests that hash through the CLI pay for it once or twice.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from sqlalchemy import delete, update
from typer.testing import CliRunner, Result

from nentang.kernel.authz.models import Grant
from nentang.kernel.authz.permissions import AUDIT_READ, TENANTS_READ, USERS_MANAGE
from nentang.kernel.cli.main import app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import ensure_administrator
from nentang.kernel.identity.models import ApiToken
from nentang.kernel.identity.tokens import TOKEN_PATTERN
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import PermissionDenied
from tests.conftest import TEST_SECRETS_KEY, Tree
from tests.identity_fixtures import audit_entries, identity_settings, make_user

runner = CliRunner()
DEMO = Actor.system("demo")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


def nentang(database_url: str, *args: str, input: str | None = None) -> Result:
    env = {
        "NENTANG_DATABASE_URL": database_url,
        "NENTANG_LOG_FORMAT": "console",
        "NENTANG_MODE": None,
        "NENTANG_SECRETS_KEY": TEST_SECRETS_KEY,
    }
    return runner.invoke(app, list(args), env=env, input=input)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result: Result, code: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith(f"error [{code}]: "), result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# -- the first administrator ----------------------------------------------------------------------


def test_ensure_administrator_creates_grants_and_audits_once(kernel: Kernel, tree: Tree) -> None:
    first = ensure_administrator(kernel, actor=DEMO, username="admin", tenant_code="TW")
    assert first.created and first.granted and first.password is not None and len(first.password) == 24
    assert first.password not in repr(first)
    user = kernel.users.get("admin")
    assert kernel.login.authenticate("admin", first.password).id == user.id
    assert kernel.authz.check(user.principal, tree.c3.id, USERS_MANAGE)  # admin at TW: everywhere below
    created = [e for e in audit_entries(kernel, tree.central.id) if e[1] == "system:demo"]
    assert [e[0] for e in created] == ["user.create", "grant.create"]

    again = ensure_administrator(kernel, actor=DEMO, username="admin", tenant_code="TW")
    assert (again.created, again.password, again.granted) == (False, None, False)
    assert [e for e in audit_entries(kernel, tree.central.id) if e[1] == "system:demo"] == created


def test_ensure_administrator_repairs_a_missing_grant(kernel: Kernel, tree: Tree) -> None:
    ensure_administrator(kernel, actor=DEMO, username="admin", tenant_code="TW")
    with kernel.db.platform() as session, session.begin():
        session.execute(delete(Grant))
    repaired = ensure_administrator(kernel, actor=DEMO, username="admin", tenant_code="TW")
    assert (repaired.created, repaired.granted) == (False, True)
    assert kernel.authz.check(kernel.users.get("admin").principal, tree.central.id, USERS_MANAGE)


def test_ensure_administrator_is_an_operator_act(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(PermissionDenied):
        ensure_administrator(kernel, actor=Actor("user", "1"), username="admin", tenant_code="TW")


# -- nentang user -----------------------------------------------------------------------------------


def test_user_create_with_a_generated_password_and_list(kernel: Kernel, tree: Tree, database_url: str) -> None:
    out = ok(
        nentang(database_url, "user", "create", "alice", "--tenant", "01", "--name", "Alice", "--generate-password")
    )
    assert "created user alice" in out
    [line] = [ln for ln in out.splitlines() if ln.startswith("password for alice: ")]
    password = line.removeprefix("password for alice: ")
    assert kernel.login.authenticate("alice", password).username == "alice"
    action, actor, target, _ = audit_entries(kernel, tree.p1.id)[-1]
    assert (action, actor, target) == ("auth.login", kernel.users.get("alice").principal, "alice")
    assert ("user.create", f"cli:{getpass.getuser()}", "alice") in [e[:3] for e in audit_entries(kernel, tree.p1.id)]

    ok(nentang(database_url, "user", "create", "bob", "-t", "02", "--name", "Bob", "--no-password"))
    listed = ok(nentang(database_url, "user", "list", "--tenant", "01"))
    assert "alice" in listed and "bob" not in listed
    assert "oidc" in ok(nentang(database_url, "user", "list")).split("bob", 1)[1].splitlines()[0]


def test_user_create_prompts_for_the_password_twice(kernel: Kernel, tree: Tree, database_url: str) -> None:
    phrase = "a typed passphrase"
    result = nentang(
        database_url, "user", "create", "carol", "-t", "01", "--name", "Carol", input=f"{phrase}\n{phrase}\n"
    )
    ok(result)
    assert phrase not in result.stdout
    assert kernel.login.authenticate("carol", phrase).username == "carol"


def test_user_passwd_disable_enable_and_grant(kernel: Kernel, tree: Tree, database_url: str) -> None:
    user = make_user(kernel, "dave", "00001")
    opened = kernel.sessions.create(user.id)
    phrase = "another passphrase"
    ok(nentang(database_url, "user", "passwd", "dave", input=f"{phrase}\n{phrase}\n"))
    assert kernel.sessions.resolve(opened.cookie_value) is None
    assert kernel.login.authenticate("dave", phrase).username == "dave"

    ok(nentang(database_url, "user", "disable", "dave", "--reason", "moved to another unit"))
    assert not kernel.users.get("dave").active
    ok(nentang(database_url, "user", "enable", "dave"))
    assert kernel.users.get("dave").active

    out = ok(nentang(database_url, "user", "grant", "dave", "auditor", "--tenant", "01"))
    assert "granted auditor to dave at 01" in out
    assert kernel.authz.check(user.principal, tree.c2.id, AUDIT_READ)


def test_user_command_errors_are_one_clear_line(kernel: Kernel, tree: Tree, database_url: str) -> None:
    failed(
        nentang(database_url, "user", "create", "Bad Name", "-t", "01", "--name", "X", "--no-password"),
        "user.bad_username",
    )
    failed(nentang(database_url, "user", "disable", "ghost"), "user.not_found")
    make_user(kernel, "erin", "01")
    failed(nentang(database_url, "user", "grant", "erin", "no-such-role", "-t", "01"), "authz.unknown_role")
    failed(
        nentang(
            database_url, "user", "create", "x1y", "-t", "01", "--name", "X", "--generate-password", "--no-password"
        ),
        "validation.failed",
    )


# -- nentang token ----------------------------------------------------------------------------------


def test_token_create_list_revoke(kernel: Kernel, tree: Tree, database_url: str) -> None:
    out = ok(
        nentang(
            database_url,
            "token",
            "create",
            "-t",
            "00001",
            "--name",
            "lgsp",
            "--role",
            "viewer",
            "--expires-in-days",
            "30",
        )
    )
    plaintext = out.strip().splitlines()[-1]
    assert TOKEN_PATTERN.match(plaintext)
    token = kernel.tokens.authenticate(plaintext)
    assert token.tenant_id == tree.c1.id and token.created_by == f"cli:{getpass.getuser()}"
    assert kernel.authz.check(token.principal, tree.c1.id, TENANTS_READ)

    listed = ok(nentang(database_url, "token", "list", "-t", "00001"))
    assert token.prefix in listed and "viewer" in listed and "lgsp" in listed
    secret = plaintext.removeprefix(f"{token.prefix}_")  # base64url: it may itself hold "_"
    assert secret != plaintext and plaintext not in listed and secret not in listed

    assert f"revoked token {token.id} (lgsp)" in ok(nentang(database_url, "token", "revoke", str(token.id)))
    # The CLI is another process: this worker forgets the token it verified when its change
    # watcher hears of the revocation (the version poll on SQLite, NOTIFY on PostgreSQL).
    assert refused_within(kernel, plaintext, seconds=3.0) == "auth.token_revoked"
    failed(nentang(database_url, "token", "revoke", str(token.id)), "token.already_revoked")
    assert [e[0] for e in audit_entries(kernel, tree.c1.id)][-2:] == ["token.revoke", "auth.token_refused"]


def refused_within(kernel: Kernel, plaintext: str, *, seconds: float) -> str:
    """The code of the first refusal of ``plaintext`` within ``seconds`` (fails if none comes)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            kernel.tokens.authenticate(plaintext)
        except PermissionDenied as refused:
            return refused.code
        if time.monotonic() > deadline:
            pytest.fail(f"the token was still accepted {seconds} s after it was revoked")
        time.sleep(0.02)


def test_token_list_shows_an_expired_token_as_expired(kernel: Kernel, tree: Tree, database_url: str) -> None:
    created = kernel.tokens.create_as_operator(
        Actor.command_line(), tenant_code="00001", name="old", roles=["viewer"], expires_in_days=1
    ).token
    with kernel.db.platform() as session, session.begin():
        session.execute(
            update(ApiToken).where(ApiToken.id == created.id).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    line = next(x for x in ok(nentang(database_url, "token", "list", "-t", "00001")).splitlines() if "old" in x)
    assert line.split()[:3] == [str(created.id), created.prefix, "expired"]


def test_token_create_refuses_a_lifetime_out_of_range(kernel: Kernel, tree: Tree, database_url: str) -> None:
    for days in ("0", "366"):
        result = nentang(
            database_url, "token", "create", "-t", "TW", "--name", "x", "--role", "viewer", "--expires-in-days", days
        )
        assert result.exit_code == 2
    assert kernel.tokens.list_as_operator("TW") == []


def test_token_list_pages_by_id_and_refuses_a_page_out_of_range(kernel: Kernel, tree: Tree, database_url: str) -> None:
    ids = [
        kernel.tokens.create_as_operator(
            Actor.command_line(), tenant_code="00001", name=f"lgsp {n}", roles=["viewer"], expires_in_days=30
        ).token.id
        for n in range(3)
    ]
    first = nentang(database_url, "token", "list", "-t", "00001", "--first", "2")
    assert [int(line.split()[0]) for line in ok(first).splitlines()] == ids[:2]
    assert f"(more: --after {ids[1]})" in first.stderr
    rest = nentang(database_url, "token", "list", "-t", "00001", "--first", "2", "--after", str(ids[1]))
    assert [int(line.split()[0]) for line in ok(rest).splitlines()] == ids[2:]
    assert "more:" not in rest.stderr
    for bad in (("--first", "0"), ("--first", "1001"), ("--after", "-1"), ("--first", "many")):
        refused = nentang(database_url, "token", "list", "-t", "00001", *bad)
        assert refused.exit_code == 2 and refused.stdout == "", (bad, refused.output)
    failed(nentang(database_url, "token", "list", "-t", "99999"), "tenant.not_found")
