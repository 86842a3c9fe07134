"""The authoriser: "may this principal do this at this tenant?" — fast, and deny by default.

A grant of role R to principal P at tenant T lets P use R's permissions at T and at every
tenant below T. The hot path (:meth:`Authorizer.check`) is three look-ups: the tenant's
ancestor ids, the principal's grants (every principal's, held compactly: ``grant_store.py``), and the
memoised casbin decision per role.
Writes that change who may do what go through ``administration.py`` and are checked *inside*
their own transaction with :meth:`Authorizer.permissions_in`, never against a cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import final

from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.audit.refusals import RefusalAudit, mark_audited
from nentang.kernel.authz import administration
from nentang.kernel.authz.cache import GrantReader, all_tenant_paths, tenant_path_cache
from nentang.kernel.authz.facts import read_facts
from nentang.kernel.authz.grant_store import GrantStore
from nentang.kernel.authz.models import Grant, Permission, Role, RolePermission
from nentang.kernel.authz.permissions import KERNEL_PERMISSIONS, KERNEL_ROLE_TEMPLATES, PermissionSpec, RoleTemplate
from nentang.kernel.authz.role_model import RoleModel
from nentang.kernel.data.database import Database
from nentang.kernel.data.scope import run_after_transaction
from nentang.kernel.identity.actor import Actor
from nentang.kernel.propagation import topics
from nentang.kernel.propagation.versions import bump
from nentang.kernel.propagation.watcher import ChangeWatcher
from nentang.sdk.errors import Conflict, PermissionDenied, TenantNotFound


@final
class Authorizer:
    def __init__(self, db: Database, audit: AuditLog, watcher: ChangeWatcher) -> None:
        self._db = db
        self._audit = audit
        #: Refusals are security events: audited in the target's and the actor's tenants, throttled.
        self._refusals = RefusalAudit(db, audit)
        self.model = RoleModel()
        self.grants = GrantStore(GrantReader(db.app_engine))
        self.paths = tenant_path_cache(db.app_engine)
        watcher.subscribe(topics.AUTHZ, self._on_authz_change)
        watcher.subscribe(topics.TENANCY, self.paths.evict)

    # -- start-up ------------------------------------------------------------------------

    def load(self) -> int:
        """Load the role → permission model and every principal's grants; returns the model's lines."""
        lines = self.model.load(self._db.app_engine)
        self.grants.load()
        # a national tree is a few thousand paths: one query now instead of a miss per tenant later
        self.paths.fill(partial(all_tenant_paths, self._db.app_engine))
        return lines

    def close(self) -> None:
        """Close the grant store's kept connections (before the engines are disposed)."""
        self.grants.close()

    def _on_authz_change(self, key: str | None) -> None:
        if key is None:
            self.grants.evict(None)
            self.model.load(self._db.app_engine)
        elif key.startswith("role:"):
            self.model.reload_role(self._db.app_engine, int(key.removeprefix("role:")))
        else:
            self.grants.evict(key)

    # -- the hot path ----------------------------------------------------------------------

    def check(self, principal: str, tenant_id: int, permission: str) -> bool:
        """Whether ``principal`` holds ``permission`` at ``tenant_id`` (from the caches)."""
        path = self.paths.get(tenant_id)
        if not path:
            return False
        allows = self.model.allows
        return any(t in path and allows(role_id, permission) for t, role_id in self.grants.get(principal))

    def stands_at(self, principal: str, home_tenant_id: int | None, tenant_id: int) -> bool:
        """Whether a caller may act for ``tenant_id`` at all: it is the caller's home tenant or below
        it, or the caller holds a role there or above. What it may *do* there is checked per act."""
        path = self.paths.get(tenant_id)
        if home_tenant_id is not None and home_tenant_id in path:
            return True
        return any(granted_at in path for granted_at, _role in self.grants.get(principal))

    def require(self, principal: str, tenant_id: int, permission: str) -> None:
        if not self.check(principal, tenant_id, permission):
            raise PermissionDenied(_denied(principal, tenant_id, permission), code="permission.denied")

    # -- fresh reads, inside the caller's transaction ------------------------------------

    def permissions_in(self, session: Session, principal: str, tenant_id: int) -> frozenset[str]:
        """Everything ``principal`` may do at ``tenant_id``, read from the database now."""
        facts = read_facts(session, tenant_id=tenant_id, actor=principal)
        if facts.tenant is None:
            raise TenantNotFound(f"no tenant with id {tenant_id}")
        return facts.held

    def require_in(self, session: Session, principal: str, tenant_id: int, permission: str) -> None:
        if permission not in self.permissions_in(session, principal, tenant_id):
            raise PermissionDenied(_denied(principal, tenant_id, permission), code="permission.denied")

    # -- declarations ----------------------------------------------------------------------

    def sync_declarations(
        self,
        session: Session,
        *,
        declared_by: str = "kernel",
        permissions: Iterable[PermissionSpec] = KERNEL_PERMISSIONS,
        templates: Iterable[RoleTemplate] = KERNEL_ROLE_TEMPLATES,
    ) -> None:
        """Upsert the permissions and role templates a component declares (idempotent)."""
        for spec in permissions:
            row = session.get(Permission, spec.name)
            if row is None:
                session.add(Permission(name=spec.name, description=spec.description, declared_by=declared_by))
            else:
                row.description = spec.description
        session.flush()
        for template in templates:
            role = session.scalar(select(Role).where(Role.tenant_id.is_(None), Role.name == template.name))
            if role is None:
                role = Role(
                    name=template.name,
                    description=template.description,
                    declared_by=declared_by,
                    created_by=declared_by,
                )
                session.add(role)
                session.flush()
            current = set(session.scalars(select(RolePermission.permission).where(RolePermission.role_id == role.id)))
            wanted = set(template.permissions)
            for perm in wanted - current:
                session.add(RolePermission(role_id=role.id or 0, permission=perm))
            for perm in current - wanted:
                session.delete(session.get(RolePermission, (role.id, perm)))
            if wanted != current:
                bump(session, topics.AUTHZ, f"role:{role.id}")
        session.flush()

    # -- administration (delegation-checked writes) --------------------------------------
    # Each runs in the caller's transaction. A refusal is a security event: it is audited in a
    # transaction of its own (the caller's rolls back), then re-raised.

    def create_role(
        self,
        session: Session,
        *,
        actor: Actor,
        tenant_id: int,
        name: str,
        permissions: Iterable[str],
        description: str = "",
    ) -> Role:
        with self._audited_refusal(session, actor, tenant_id, "role.create", name):
            return administration.create_role(
                self,
                session,
                actor=actor,
                tenant_id=tenant_id,
                name=name,
                permissions=permissions,
                description=description,
            )

    def update_role(self, session: Session, *, actor: Actor, role_id: int, permissions: Iterable[str]) -> Role:
        role = session.get(Role, role_id)
        with self._audited_refusal(session, actor, role.tenant_id if role else None, "role.update", f"role:{role_id}"):
            return administration.update_role(self, session, actor=actor, role_id=role_id, permissions=permissions)

    def delete_role(self, session: Session, *, actor: Actor, role_id: int) -> None:
        """Delete a custom role that no grant uses. The row is locked first: a grant of it racing
        with the delete then waits, and fails on the foreign key, instead of failing the delete."""
        role = session.get(Role, role_id, with_for_update=True)
        with self._audited_refusal(session, actor, role.tenant_id if role else None, "role.delete", f"role:{role_id}"):
            administration.delete_role(self, session, actor=actor, role_id=role_id)

    def grant(self, session: Session, *, actor: Actor, principal: str, role: str, tenant_id: int) -> Grant:
        with self._audited_refusal(session, actor, tenant_id, "grant.create", principal, role=role):
            return administration.grant(self, session, actor=actor, principal=principal, role=role, tenant_id=tenant_id)

    def grant_as_operator(self, session: Session, *, actor: Actor, principal: str, role: str, tenant_id: int) -> Grant:
        """Bootstrap and operator path (CLI, demo): no delegation check, still audited."""
        return administration.grant(
            self, session, actor=actor, principal=principal, role=role, tenant_id=tenant_id, checked=False
        )

    def revoke(self, session: Session, *, actor: Actor, grant_id: int) -> None:
        def tenant_of_grant() -> int | None:  # read only on a refusal: the grant is still there
            return session.scalar(select(Grant.tenant_id).where(Grant.id == grant_id))

        try:
            with self._audited_refusal(session, actor, tenant_of_grant, "grant.revoke", f"grant:{grant_id}"):
                administration.revoke(self, session, actor=actor, grant_id=grant_id)
        except PermissionDenied as refusal:
            if refusal.code != "permission.denied":
                raise
            # Audited above; answered as an id nobody holds: a grant one may not manage is one
            # one may not list either, so its existence is not the caller's to learn.
            raise administration.grant_not_found(grant_id) from None

    def revoke_all_for(self, session: Session, *, actor: Actor, principal: str) -> int:
        return administration.revoke_all_for(self, session, actor=actor, principal=principal)

    @contextmanager
    def _audited_refusal(
        self,
        session: Session,
        actor: Actor,
        tenant: int | Callable[[], int | None] | None,
        attempted: str,
        target: str,
        **detail: str,
    ) -> Iterator[None]:
        """Audit a refusal; ``tenant`` is where (or how to read it, inside the refused transaction)."""
        try:
            yield
        except (PermissionDenied, Conflict) as refusal:
            audited = isinstance(refusal, PermissionDenied) or refusal.code == "authz.last_admin"
            tenant_id = tenant() if callable(tenant) and audited else tenant
            if audited and isinstance(tenant_id, int):
                mark_audited(refusal)
                record = partial(
                    self._refusals.record,
                    actor=actor,
                    tenant_ids=(tenant_id,),
                    action="authz.refused",
                    target=target,
                    code=refusal.code,
                    detail={"attempted": attempted, "reason": refusal.message, **detail},
                )
                run_after_transaction(session, record)
            raise

    @property
    def audit(self) -> AuditLog:
        return self._audit


def _denied(principal: str, tenant_id: int, permission: str) -> str:
    return f"{principal} may not {permission!r} at tenant {tenant_id}"
