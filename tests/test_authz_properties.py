"""Property: over random sequences of role and grant operations by random administrators,
(1) the kernel accepts exactly what the delegation rules allow (checked against a small
independent model), and (2) no accepted act gives anyone a permission the acting
administrator did not itself hold there — nor raises the actor's own privileges."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from nentang.kernel.authz.models import Grant, Role
from nentang.kernel.authz.permissions import (
    ADMIN_ROLE,
    AUDIT_READ,
    GRANTS_MANAGE,
    KERNEL_ROLE_TEMPLATES,
    ROLES_MANAGE,
    TENANTS_READ,
    USERS_MANAGE,
)
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NentangError
from tests.authz_helpers import bootstrap_admin, make_user
from tests.conftest import Tree

PERMS = (TENANTS_READ, AUDIT_READ, USERS_MANAGE, GRANTS_MANAGE, ROLES_MANAGE)
TEMPLATES = {t.name: frozenset(t.permissions) for t in KERNEL_ROLE_TEMPLATES}
PRINCIPALS = 4
_examples = itertools.count()


@dataclass
class Model:
    """The delegation rules, restated plainly."""

    parent: dict[int, int | None]
    root: int
    other_root_admins: int
    roles: dict[str, tuple[int | None, frozenset[str]]] = field(default_factory=dict)
    grants: list[tuple[str, str, int]] = field(default_factory=list)  # (principal, role name, tenant)

    def path(self, tenant: int) -> list[int]:
        out: list[int] = []
        node: int | None = tenant
        while node is not None:
            out.append(node)
            node = self.parent[node]
        return out

    def visible_role(self, name: str, tenant: int) -> tuple[str, frozenset[str]] | None:
        for node in self.path(tenant):
            if self.roles.get(name, (None, None))[0] == node:
                return name, self.roles[name][1]
        if name in TEMPLATES:
            return name, TEMPLATES[name]
        return None

    def perms_of(self, role: str) -> frozenset[str]:
        return self.roles[role][1] if role in self.roles else TEMPLATES[role]

    def held(self, principal: str, tenant: int) -> frozenset[str]:
        path = set(self.path(tenant))
        out: set[str] = set()
        for p, role, t in self.grants:
            if p == principal and t in path:
                out |= self.perms_of(role)
        return frozenset(out)


# Administrators act more often than others, so that chains of delegation actually form.
actors = st.sampled_from([0, 0, 0, 1, 1, 2, 3])

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("create_role"), st.integers(0, PRINCIPALS - 1), st.integers(0, 5), st.sets(st.sampled_from(PERMS))
        ),
        st.tuples(
            st.just("update_role"), st.integers(0, PRINCIPALS - 1), st.integers(0, 9), st.sets(st.sampled_from(PERMS))
        ),
        st.tuples(
            st.just("grant"),
            st.integers(0, PRINCIPALS - 1),
            st.integers(0, PRINCIPALS - 1),
            st.integers(0, 9),
            st.integers(0, 5),
        ),
        st.tuples(st.just("revoke"), actors, st.integers(0, 20)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_delegation_never_escalates(kernel: Kernel, tree: Tree, sequence: list[tuple]) -> None:
    # Each example gets fresh principals and role names, so examples share the tree but not state.
    n = next(_examples)
    tenants = [tree.central, tree.p1, tree.p2, tree.c1, tree.c2, tree.c3]
    ids = [t.id for t in tenants]
    users = [make_user(kernel, f"x{n}.u{i}", tree.central.id) for i in range(PRINCIPALS)]
    bootstrap_admin(kernel, users[0], tree.central.id)
    with kernel.db.platform() as session:
        admin_id = session.scalar(select(Role.id).where(Role.name == ADMIN_ROLE, Role.tenant_id.is_(None)))
        root_admins = session.scalar(
            select(func.count()).where(
                Grant.tenant_id == tree.central.id, Grant.role_id == admin_id, Grant.principal.startswith("user:")
            )
        )
    model = Model(
        parent={t.id: t.parent_id for t in tenants},
        root=tree.central.id,
        other_root_admins=root_admins - 1,
        grants=[(str(users[0]), ADMIN_ROLE, tree.central.id)],
    )
    role_names: list[str] = []
    grant_rows: list[tuple[int, tuple[str, str, int]]] = []

    def system_held(actor: Actor, tenant: int) -> frozenset[str]:
        return frozenset(p for p in PERMS if kernel.authz.check(str(actor), tenant, p))

    for step, op in enumerate(sequence):
        kind, a = op[0], users[op[1]]
        before = {(str(u), t): system_held(u, t) for u in users for t in ids}
        expected, accepted = False, False
        try:
            with kernel.db.platform() as session, session.begin():
                if kind == "create_role":
                    tenant, perms = ids[op[2]], frozenset(op[3])
                    held = model.held(str(a), tenant)
                    expected = bool(perms) and ROLES_MANAGE in held and perms <= held
                    name = f"r{n}-{step}"
                    kernel.authz.create_role(session, actor=a, tenant_id=tenant, name=name, permissions=perms)
                    accepted = True
                    model.roles[name] = (tenant, perms)
                    role_names.append(name)
                elif kind == "update_role":
                    if not role_names:
                        continue
                    name, perms = role_names[op[2] % len(role_names)], frozenset(op[3])
                    tenant = model.roles[name][0]
                    held = model.held(str(a), tenant)
                    expected = bool(perms) and ROLES_MANAGE in held and perms <= held
                    role_id = session.scalar(select(Role.id).where(Role.name == name))
                    kernel.authz.update_role(session, actor=a, role_id=role_id, permissions=perms)
                    accepted = True
                    model.roles[name] = (tenant, perms)
                elif kind == "grant":
                    target, tenant = users[op[2]], ids[op[4]]
                    choices = [*role_names, *TEMPLATES]
                    name = choices[op[3] % len(choices)]
                    visible = model.visible_role(name, tenant)
                    held = model.held(str(a), tenant)
                    duplicate = visible is not None and (str(target), visible[0], tenant) in model.grants
                    expected = visible is not None and GRANTS_MANAGE in held and visible[1] <= held and not duplicate
                    row = kernel.authz.grant(session, actor=a, principal=str(target), role=name, tenant_id=tenant)
                    accepted = True
                    model.grants.append((str(target), name, tenant))
                    grant_rows.append((row.id, (str(target), name, tenant)))
                elif kind == "revoke":
                    if not grant_rows:
                        continue
                    grant_id, entry = grant_rows[op[2] % len(grant_rows)]
                    if entry not in model.grants:
                        continue
                    held = model.held(str(a), entry[2])
                    root_admins_left = model.other_root_admins + sum(
                        1 for g in model.grants if g[1] == ADMIN_ROLE and g[2] == model.root and g != entry
                    )
                    last_admin = entry[1] == ADMIN_ROLE and entry[2] == model.root and root_admins_left == 0
                    expected = GRANTS_MANAGE in held and not last_admin
                    kernel.authz.revoke(session, actor=a, grant_id=grant_id)
                    accepted = True
                    model.grants.remove(entry)
                    # forget the id: the same grant made again later gets a new id
                    grant_rows.remove((grant_id, entry))
        except NentangError:
            accepted = False
        event(f"{kind} {'accepted' if accepted else 'refused'}")
        assert accepted == expected, f"step {step}: {op} accepted={accepted} but the rules say {expected}"
        after = {(str(u), t): system_held(u, t) for u in users for t in ids}
        for (principal, tenant), perms in after.items():
            gained = perms - before[(principal, tenant)]
            if principal == str(a):
                assert not gained, f"step {step}: {a} raised its own privileges at {tenant}: {sorted(gained)}"
            assert gained <= before[(str(a), tenant)], f"step {step}: {principal} got {sorted(gained)} from {a}"
            assert perms == model.held(principal, tenant) & frozenset(PERMS)
