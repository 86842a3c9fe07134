"""What a delegated write needs to know, read in one round trip inside the write's transaction.

A grant used to ask six questions one statement at a time (the tenant, the principal, the role, its
permissions, the tenant's path, what the administrator holds there). At national scale a grant's time
is mostly round trips, so :func:`read_facts` asks them all in one ``UNION ALL`` of small indexed
selects, each row tagged with the question it answers. Every table here is a platform table (tenants,
users, tokens, roles, grants), read through the caller's session, so the answers belong to the same
transaction as the write they guard.

Ancestry is read from the tenant's materialised path in SQL (tenant ``X`` is on the path of ``T`` when
``T.path`` contains ``/X/``), so the facts need not wait for the path to come back first.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from nentang.kernel.authz.models import Grant, Permission, Role, RolePermission
from nentang.kernel.authz.permissions import ADMIN_ROLE
from nentang.kernel.identity.models import ApiToken, User
from nentang.kernel.tenancy.models import Tenant

#: The columns every part of the union returns: (question, number, number, text, text).
_INT = sa.Integer()
_TEXT = sa.String()


@final
@dataclass(frozen=True, slots=True)
class TenantFacts:
    id: int
    code: str
    path: str
    parent_id: int | None


@final
@dataclass(frozen=True, slots=True)
class RoleFacts:
    id: int
    #: ``None`` for a template.
    tenant_id: int | None
    name: str
    permissions: frozenset[str]


@final
@dataclass(frozen=True, slots=True)
class GrantFacts:
    id: int
    principal: str
    role_id: int
    role_name: str


@final
@dataclass(slots=True)
class Facts:
    """The answers; a question that was not asked keeps its empty default."""

    tenant: TenantFacts | None = None
    #: What the acting principal holds at the tenant (through grants there or above).
    held: frozenset[str] = frozenset()
    #: Whether the principal to be granted exists.
    principal_exists: bool = False
    #: The roles with the asked-for name that are visible at the tenant, or the asked-for role.
    roles: list[RoleFacts] = field(default_factory=list)
    #: The asked-for permission names that are declared.
    declared: frozenset[str] = frozenset()
    #: The grant asked for by id (the tenant is the grant's tenant).
    grant: GrantFacts | None = None
    #: Whether a user other than the grant's holder is administrator of the grant's tenant.
    other_admins: bool = False
    #: The id of the administrator template (asked with a grant: a custom role may share its name).
    admin_template_id: int | None = None
    #: Whether the tenant already defines a role with the asked-for name.
    name_taken: bool = False
    #: How many grants, at any tenant, use the role asked for by id (asked before deleting it).
    role_grants: int = 0


def read_facts(
    session: Session,
    *,
    tenant_id: int | None = None,
    grant_id: int | None = None,
    actor: str | None = None,
    principal: str | None = None,
    visible_role: str | None = None,
    role_id: int | None = None,
    permissions: Iterable[str] = (),
    role_name_at_tenant: str | None = None,
    count_role_grants: bool = False,
) -> Facts:
    """Answer the asked questions about ``tenant_id`` (or the tenant of ``grant_id``) at once."""
    kind, _, ident = (principal or "").partition(":")
    wanted = sorted(set(permissions))
    shape = _Shape(
        by_grant=grant_id is not None,
        actor=actor is not None,
        principal=kind if principal is not None else None,
        role="id" if role_id is not None else "name" if visible_role is not None else None,
        permissions=bool(wanted),
        name_at_tenant=role_name_at_tenant is not None,
        role_grants=count_role_grants and role_id is not None,
    )
    params = {
        "tenant_id": tenant_id,
        "grant_id": grant_id,
        "actor": actor,
        "principal_id": int(ident) if principal is not None else None,
        "role_name": visible_role,
        "role_id": role_id,
        "permissions": wanted,
        "name_at_tenant": role_name_at_tenant,
    }
    return _collect(session.execute(_statement(shape), params))  # keys the shape does not use are ignored


@final
@dataclass(frozen=True, slots=True)
class _Shape:
    """Which questions are asked: one cached statement per shape, values as parameters."""

    by_grant: bool
    actor: bool
    principal: str | None
    role: str | None
    permissions: bool
    name_at_tenant: bool
    role_grants: bool


@functools.lru_cache(maxsize=64)
def _statement(shape: _Shape) -> Any:
    """Build the union for ``shape`` once: building a statement costs more Python than running it,
    and a reused statement object keeps its memoised cache key (SQLAlchemy's compiled cache)."""
    tenant: Any = _grant_tenant() if shape.by_grant else sa.bindparam("tenant_id", type_=_INT)
    path = sa.select(Tenant.path).where(Tenant.id == tenant).scalar_subquery()

    def on_path(tenant_column: Any) -> Any:
        return path.contains("/" + sa.cast(tenant_column, _TEXT) + "/")

    parts = [_row("tenant", Tenant.id, Tenant.parent_id, Tenant.code, Tenant.path).where(Tenant.id == tenant)]
    if shape.actor:
        parts.append(
            _row("held", text2=RolePermission.permission)
            .join(Grant, Grant.role_id == RolePermission.role_id)
            .where(Grant.principal == sa.bindparam("actor", type_=_TEXT), on_path(Grant.tenant_id))
        )
    if shape.principal is not None:
        model: Any = User if shape.principal == "user" else ApiToken
        parts.append(_row("principal", model.id).where(model.id == sa.bindparam("principal_id", type_=_INT)))
    if shape.role is not None:
        if shape.role == "id":
            which, visible = Role.id == sa.bindparam("role_id", type_=_INT), sa.true()
        else:
            which = Role.name == sa.bindparam("role_name", type_=_TEXT)
            visible = sa.or_(Role.tenant_id.is_(None), on_path(Role.tenant_id))
        parts.append(
            _row("role", Role.id, Role.tenant_id, Role.name, RolePermission.permission)
            .outerjoin(RolePermission, RolePermission.role_id == Role.id)
            .where(which, visible)
        )
    if shape.permissions:
        declared = Permission.name.in_(sa.bindparam("permissions", expanding=True))
        parts.append(_row("declared", text2=Permission.name).where(declared))
    if shape.by_grant:
        parts.append(
            _row("grant", Grant.id, Grant.role_id, Grant.principal, Role.name)
            .join(Role, Role.id == Grant.role_id)
            .where(Grant.id == sa.bindparam("grant_id", type_=_INT))
        )
        parts.append(_row("other_admins").where(_another_admin()))
        parts.append(_row("admin_template", Role.id).where(Role.tenant_id.is_(None), Role.name == ADMIN_ROLE))
    if shape.name_at_tenant:
        name = sa.bindparam("name_at_tenant", type_=_TEXT)
        parts.append(_row("name_taken").where(sa.exists().where(Role.tenant_id == tenant, Role.name == name)))
    if shape.role_grants:
        uses = Grant.role_id == sa.bindparam("role_id", type_=_INT)
        parts.append(_row("role_grants", sa.func.count(Grant.id)).where(uses))
    return sa.union_all(*parts)


def _row(kind: str, num1: Any = None, num2: Any = None, text1: Any = None, text2: Any = None) -> sa.Select[Any]:
    def typed(value: Any, type_: Any) -> Any:
        return sa.cast(sa.null(), type_) if value is None else value

    return sa.select(
        sa.literal(kind, _TEXT), typed(num1, _INT), typed(num2, _INT), typed(text1, _TEXT), typed(text2, _TEXT)
    )


def _grant_tenant() -> Any:
    return sa.select(Grant.tenant_id).where(Grant.id == sa.bindparam("grant_id", type_=_INT)).scalar_subquery()


def _another_admin() -> Any:
    """Another *user* holds the administrator template at the grant's tenant (tokens do not count)."""
    other = aliased(Grant)
    admin = sa.select(Role.id).where(Role.tenant_id.is_(None), Role.name == ADMIN_ROLE).scalar_subquery()
    return sa.exists().where(
        other.tenant_id == _grant_tenant(),
        other.role_id == admin,
        other.id != sa.bindparam("grant_id", type_=_INT),
        other.principal.startswith("user:"),
    )


def _collect(rows: Iterable[Any]) -> Facts:
    facts = Facts()
    held: set[str] = set()
    declared: set[str] = set()
    roles: dict[int, tuple[int | None, str, set[str]]] = {}
    for kind, num1, num2, text1, text2 in rows:
        if kind == "tenant":
            facts.tenant = TenantFacts(id=num1, code=text1, path=text2, parent_id=num2)
        elif kind == "held":
            held.add(text2)
        elif kind == "principal":
            facts.principal_exists = True
        elif kind == "role":
            perms = roles.setdefault(num1, (num2, text1, set()))[2]
            if text2 is not None:
                perms.add(text2)
        elif kind == "declared":
            declared.add(text2)
        elif kind == "grant":
            facts.grant = GrantFacts(id=num1, principal=text1, role_id=num2, role_name=text2)
        elif kind == "other_admins":
            facts.other_admins = True
        elif kind == "admin_template":
            facts.admin_template_id = num1
        elif kind == "name_taken":
            facts.name_taken = True
        elif kind == "role_grants":
            facts.role_grants = num1
    facts.held, facts.declared = frozenset(held), frozenset(declared)
    facts.roles = [RoleFacts(id, tenant, name, frozenset(perms)) for id, (tenant, name, perms) in roles.items()]
    return facts
