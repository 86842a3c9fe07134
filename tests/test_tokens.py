"""API tokens: created by an administrator for one tenant (never with more than it holds), shown
once, stored hashed, refused with a distinct code when malformed, unknown, revoked or expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from nentang.kernel.authz.permissions import AUDIT_READ, GRANTS_MANAGE, TENANTS_READ, TOKENS_MANAGE
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.models import ApiToken
from nentang.kernel.identity.timeutil import aware, now
from nentang.kernel.identity.tokens import TOKEN_PATTERN, CreatedToken, token_hash
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import Tree
from tests.identity_fixtures import (
    OPERATOR,
    actions,
    audit_entries,
    grant,
    grant_rows,
    identity_settings,
    make_admin,
    make_role,
    make_user,
    token_rows,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def admin(kernel: Kernel, tree: Tree) -> UserInfo:
    """Administrator of province 01 (and so of its communes 00001 and 00002)."""
    return make_admin(kernel, "admin.hanoi", "01", tree.p1.id)


def create(kernel: Kernel, actor: Actor, *, tenant: str = "00001", name: str = "lgsp", **kw: object) -> CreatedToken:
    options: dict[str, object] = {"roles": ["viewer"], "expires_in_days": 30, **kw}
    return kernel.tokens.create(actor, tenant_code=tenant, name=name, **options)  # type: ignore[arg-type]


def token_row(kernel: Kernel, token_id: int) -> ApiToken:
    with kernel.db.platform() as session:
        row = session.get(ApiToken, token_id)
        assert row is not None
        return row


def shift(kernel: Kernel, token_id: int, **fields: timedelta) -> None:
    with kernel.db.platform() as session, session.begin():
        row = session.get(ApiToken, token_id)
        assert row is not None
        for name, delta in fields.items():
            setattr(row, name, getattr(row, name) - delta)


def refused(kernel: Kernel, plaintext: str) -> str:
    with pytest.raises(PermissionDenied) as refusal:
        kernel.tokens.authenticate(plaintext)
    if len(plaintext) > 11:  # the message never echoes the token
        assert plaintext not in refusal.value.message
    return refusal.value.code


def test_create_shows_the_token_once_and_stores_only_its_hash(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    created = create(kernel, admin.actor, roles=["viewer"], expires_in_days=30)
    assert TOKEN_PATTERN.match(created.plaintext)
    assert created.plaintext not in repr(created)
    info = created.token
    assert (info.tenant_id, info.name, info.roles) == (tree.c1.id, "lgsp", ("viewer",))
    assert info.created_by == admin.principal
    assert created.plaintext.startswith(info.prefix + "_")
    assert info.expires_at - info.created_at == timedelta(days=30)
    row = token_row(kernel, info.id)
    assert row.token_hash == token_hash(created.plaintext) != created.plaintext
    assert created.plaintext not in str(audit_entries(kernel, tree.c1.id))
    assert create(kernel, admin.actor, name="other").plaintext != created.plaintext


def test_the_tokens_roles_are_grants_to_the_token_principal_at_its_tenant(
    kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    created = create(kernel, admin.actor, roles=["viewer"])
    principal = created.token.principal
    assert kernel.authz.check(principal, tree.c1.id, TENANTS_READ)
    assert not kernel.authz.check(principal, tree.p1.id, TENANTS_READ)  # not above its tenant
    assert not kernel.authz.check(principal, tree.c2.id, TENANTS_READ)  # nor beside it
    assert not kernel.authz.check(principal, tree.c1.id, AUDIT_READ)  # nor beyond its roles


def test_creation_is_audited(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    info = create(kernel, admin.actor, roles=["viewer"]).token
    entries = audit_entries(kernel, tree.c1.id)
    assert [e[0] for e in entries][-2:] == ["grant.create", "token.create"]
    action, actor, target, detail = entries[-1]
    assert (action, actor, target) == ("token.create", admin.principal, "lgsp")
    assert detail["token_id"] == info.id and detail["roles"] == ["viewer"] and detail["prefix"] == info.prefix


def test_an_administrator_cannot_give_a_token_more_than_it_holds(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    make_role(kernel, admin.actor, tree.p1.id, "integrations", [TOKENS_MANAGE, GRANTS_MANAGE, TENANTS_READ])
    manager = make_user(kernel, "integrations.officer", "01")
    grant(kernel, manager, "integrations", tree.p1.id)
    before = (token_rows(kernel), actions(kernel, tree.c1.id), grant_rows(kernel))
    with pytest.raises(PermissionDenied) as refusal:
        create(kernel, manager.actor, roles=["viewer", "auditor"])  # auditor reads users and the audit log
    assert refusal.value.code == "authz.escalation"
    assert "kernel.audit.read" in refusal.value.message
    # no token row, no grant, no token.create: only the authoriser's record of the refused escalation
    assert (token_rows(kernel), grant_rows(kernel)) == (before[0], before[2])
    assert actions(kernel, tree.c1.id) == [*before[1], "authz.refused"]
    assert create(kernel, manager.actor, roles=["viewer"]).token.roles == ("viewer",)


def test_creating_needs_tokens_manage_at_the_tenant(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    auditor = make_admin(kernel, "auditor", "01", tree.p1.id, role="auditor")
    for actor, tenant in ((auditor.actor, "00001"), (admin.actor, "00003"), (admin.actor, "TW")):
        with pytest.raises(PermissionDenied) as refusal:
            create(kernel, actor, tenant=tenant)
        assert refusal.value.code == "permission.denied"
    assert token_rows(kernel) == 0


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"expires_in_days": 0}, "token.bad_expiry"),
        ({"expires_in_days": 366}, "token.bad_expiry"),
        ({"expires_in_days": True}, "token.bad_expiry"),
        ({"expires_in_days": "30"}, "token.bad_expiry"),
        ({"name": "  "}, "token.bad_name"),
        ({"name": "x" * 129}, "token.bad_name"),
        ({"roles": []}, "token.bad_roles"),
        ({"roles": "viewer"}, "token.bad_roles"),
        ({"roles": ["viewer", ""]}, "token.bad_roles"),
        ({"roles": ["no-such-role"]}, "authz.unknown_role"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    kernel: Kernel, tree: Tree, admin: UserInfo, options: dict[str, object], code: str
) -> None:
    before = actions(kernel, tree.c1.id)
    with pytest.raises(ValidationFailed) as refusal:
        create(kernel, admin.actor, **options)
    assert refusal.value.code == code
    assert token_rows(kernel) == 0
    assert actions(kernel, tree.c1.id) == before


def test_lifetimes_at_the_edges_are_accepted(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    assert create(kernel, admin.actor, name="day", expires_in_days=1).token
    assert create(kernel, admin.actor, name="year", expires_in_days=365).token


def test_token_names_are_unique_per_tenant(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    create(kernel, admin.actor, name="lgsp")
    with pytest.raises(Conflict) as refusal:
        create(kernel, admin.actor, name="lgsp")
    assert refusal.value.code == "token.name_taken"
    assert create(kernel, admin.actor, name="lgsp", tenant="00002").token.tenant_id == tree.c2.id
    assert token_rows(kernel) == 2


def test_authenticate_returns_the_token_and_its_tenant(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    created = create(kernel, admin.actor)
    found = kernel.tokens.authenticate(created.plaintext)
    assert (found.id, found.tenant_id, found.principal) == (created.token.id, tree.c1.id, f"token:{created.token.id}")


@pytest.mark.parametrize(
    "plaintext",
    ["", "abc", "nt_", "nt_zzzzzzzz_" + "a" * 43, "nt_0123abcd_" + "a" * 42, "nt_0123abcd_" + "a" * 44, "Bearer x"],
)
def test_malformed_tokens(kernel: Kernel, tree: Tree, plaintext: str) -> None:
    assert refused(kernel, plaintext) == "auth.token_malformed"


def test_unknown_tokens(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    created = create(kernel, admin.actor)
    tampered = created.plaintext[:-1] + ("A" if created.plaintext[-1] != "A" else "B")
    assert refused(kernel, tampered) == "auth.token_unknown"
    assert refused(kernel, "nt_0123abcd_" + "a" * 43) == "auth.token_unknown"


def test_expired_tokens_are_refused_and_the_refusal_audited_once_a_minute(
    kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    created = create(kernel, admin.actor)
    shift(kernel, created.token.id, expires_at=timedelta(days=30, seconds=1))
    before = len(actions(kernel, tree.c1.id))
    assert refused(kernel, created.plaintext) == "auth.token_expired"
    assert refused(kernel, created.plaintext) == "auth.token_expired"
    entries = audit_entries(kernel, tree.c1.id)
    assert len(entries) == before + 1
    action, actor, target, detail = entries[-1]
    assert (action, actor, target) == ("auth.token_refused", created.token.principal, "lgsp")
    assert detail["reason"] == "auth.token_expired"


def test_revoked_tokens_are_refused_and_lose_their_grants(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    created = create(kernel, admin.actor)
    revoked = kernel.tokens.revoke(admin.actor, created.token.id)
    assert revoked.revoked_at is not None and revoked.revoked_by == admin.principal
    assert refused(kernel, created.plaintext) == "auth.token_revoked"
    assert not kernel.authz.check(created.token.principal, tree.c1.id, TENANTS_READ)
    assert actions(kernel, tree.c1.id)[-3:] == ["grant.revoke", "token.revoke", "auth.token_refused"]
    revoke_entry = next(e for e in audit_entries(kernel, tree.c1.id) if e[0] == "token.revoke")
    assert revoke_entry[1] == admin.principal and revoke_entry[3]["grants_removed"] == 1
    with pytest.raises(Conflict) as again:
        kernel.tokens.revoke(admin.actor, created.token.id)
    assert again.value.code == "token.already_revoked"


def test_revoking_is_checked(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    created = create(kernel, admin.actor)
    outsider = make_admin(kernel, "admin.tq", "02", tree.p2.id)
    with pytest.raises(NotFound, match=f"no API token with id {created.token.id}$"):  # as if there were none
        kernel.tokens.revoke(outsider.actor, created.token.id)
    assert kernel.tokens.authenticate(created.plaintext).id == created.token.id
    with pytest.raises(NotFound):
        kernel.tokens.revoke(admin.actor, 9999)


def test_last_use_is_recorded_at_most_once_a_minute(
    kernel: Kernel, tree: Tree, admin: UserInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = create(kernel, admin.actor)
    assert token_row(kernel, created.token.id).last_used_at is None
    kernel.tokens.authenticate(created.plaintext)
    first = token_row(kernel, created.token.id).last_used_at
    assert first is not None and now() - aware(first) < timedelta(seconds=30)
    kernel.tokens.authenticate(created.plaintext)
    assert kernel.tokens.authenticate_known(created.plaintext) is not None  # answered from memory
    assert token_row(kernel, created.token.id).last_used_at == first
    # Two minutes later (the clock moves, for the service and its memory of verified tokens):
    # the next use is recorded again, and memory does not answer for a use that is due.
    later_clock = now() + timedelta(minutes=2)
    monkeypatch.setattr("nentang.kernel.identity.tokens.now", lambda: later_clock)
    assert kernel.tokens.authenticate_known(created.plaintext) is None
    kernel.tokens.authenticate(created.plaintext)
    later = token_row(kernel, created.token.id).last_used_at
    assert later is not None and aware(later) == later_clock


def test_a_token_answered_from_memory_still_expires(
    kernel: Kernel, tree: Tree, admin: UserInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = create(kernel, admin.actor, expires_in_days=1)
    kernel.tokens.authenticate(created.plaintext)
    assert kernel.tokens.authenticate_known(created.plaintext) is not None
    after_expiry = created.token.expires_at + timedelta(seconds=1)
    monkeypatch.setattr("nentang.kernel.identity.tokens.now", lambda: after_expiry)
    assert kernel.tokens.authenticate_known(created.plaintext) is None
    assert refused(kernel, created.plaintext) == "auth.token_expired"


def test_a_revoked_token_is_forgotten_at_once_by_the_worker_that_revoked_it(
    kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    created = create(kernel, admin.actor)
    kernel.tokens.authenticate(created.plaintext)
    assert kernel.tokens.authenticate_known(created.plaintext) is not None
    kernel.tokens.revoke(admin.actor, created.token.id)
    assert kernel.tokens.authenticate_known(created.plaintext) is None
    assert refused(kernel, created.plaintext) == "auth.token_revoked"


def test_list_never_returns_secrets_and_is_checked(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    first = create(kernel, admin.actor, name="lgsp", roles=["viewer", "auditor"])
    create(kernel, admin.actor, name="ndxp")
    listed = kernel.tokens.list(admin.actor, "00001")
    assert [(t.name, t.roles) for t in listed] == [("lgsp", ("auditor", "viewer")), ("ndxp", ("viewer",))]
    assert first.plaintext not in repr(listed)
    assert not any(hasattr(t, "token_hash") for t in listed)
    with kernel.db.platform() as session:
        assert session.scalars(select(ApiToken.token_hash)).all()  # the hashes exist, just not in listings
    outsider = make_admin(kernel, "admin.tq", "02", tree.p2.id)
    with pytest.raises(PermissionDenied):
        kernel.tokens.list(outsider.actor, "00001")
    assert [t.name for t in kernel.tokens.list_as_operator("00002")] == []


def test_list_pages_by_id(kernel: Kernel, tree: Tree, admin: UserInfo) -> None:
    made = [create(kernel, admin.actor, name=f"t{n}").token.id for n in range(5)]
    create(kernel, admin.actor, tenant="00002", name="elsewhere")
    first = kernel.tokens.list(admin.actor, "00001", limit=2)
    assert [t.id for t in first] == made[:2]
    rest = kernel.tokens.list(admin.actor, "00001", limit=10, after=first[-1].id)
    assert [t.name for t in rest] == ["t2", "t3", "t4"] and all(t.roles == ("viewer",) for t in rest)
    assert [t.id for t in kernel.tokens.list_as_operator("00001", after=made[3])] == made[4:]
    for limit in (0, 1001):
        with pytest.raises(ValidationFailed, match="limit"):
            kernel.tokens.list(admin.actor, "00001", limit=limit)


def test_operator_paths(kernel: Kernel, tree: Tree) -> None:
    cli = Actor.command_line()
    created = kernel.tokens.create_as_operator(
        cli, tenant_code="TW", name="national", roles=["auditor"], expires_in_days=7
    )
    assert kernel.authz.check(created.token.principal, tree.c3.id, AUDIT_READ)
    kernel.tokens.revoke_as_operator(cli, created.token.id)
    assert refused(kernel, created.plaintext) == "auth.token_revoked"
    with pytest.raises(PermissionDenied) as refusal:
        kernel.tokens.create_as_operator(
            Actor("user", "1"), tenant_code="TW", name="x", roles=["viewer"], expires_in_days=7
        )
    assert refusal.value.code == "permission.operator_only"
    assert OPERATOR.kind == "system"
