"""Refused requests as security events: audited where the actor belongs and where they aimed.

A refused mutation, a token sent for another tenant, a user naming a tenant where they hold no
role: each says someone tried something they may not do. The administrators of the tenant aimed
at must see it, and so must those of the actor's own tenant (a compromised account is theirs to
handle). A client retrying in a loop must not flood either chain, so each (actor, action, target,
code) is recorded at most once per ``interval`` per worker.

Services that audit their own refusals (the authoriser's ``authz.refused``, the user service's
``user.refused``) mark the error with :func:`mark_audited`, and the GraphQL layer does not record
it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final, final

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.audit_throttle import AuditThrottle
from nentang.kernel.identity.models import ApiToken, User
from nentang.kernel.identity.timeutil import now
from nentang.kernel.tenancy.models import Tenant

_AUDITED: Final = "_nentang_audited"
_AIMED_AT: Final = "_nentang_aimed_at"


def mark_audited(error: BaseException) -> None:
    """Say that ``error``'s refusal is already in the audit log."""
    setattr(error, _AUDITED, True)


def is_audited(error: BaseException) -> bool:
    return bool(getattr(error, _AUDITED, False))


def aimed_at(error: BaseException, tenant_id: int) -> None:
    """Say which tenant a refused act was aimed at (its administrators hear of the attempt)."""
    setattr(error, _AIMED_AT, tenant_id)


def target_of(error: BaseException) -> int | None:
    found = getattr(error, _AIMED_AT, None)
    return found if isinstance(found, int) else None


@final
class RefusalAudit:
    def __init__(self, db: Database, audit: AuditLog, interval: timedelta = timedelta(minutes=1)) -> None:
        self._db = db
        self._audit = audit
        self._throttle = AuditThrottle(interval)

    def record(
        self,
        *,
        actor: Actor,
        tenant_ids: tuple[int | None, ...],
        action: str,
        target: str,
        code: str,
        detail: Mapping[str, Any],
    ) -> bool:
        """Append ``action`` to the chain of each tenant named and of the actor's own (a user's home,
        a token's tenant), repeats skipped, unless the same refusal was recorded within the
        interval. Blocking: call from a worker thread. A refusal stands even if its record cannot
        be written; that failure is logged."""
        if not self._throttle.due((str(actor), action, target, code, detail.get("attempted"), tenant_ids), now()):
            return False
        try:
            with self._db.platform() as session, session.begin():
                wanted = sorted({t for t in (*tenant_ids, actor_home(session, actor)) if t is not None})
                existing = set(session.scalars(select(Tenant.id).where(Tenant.id.in_(wanted))))
                for tenant_id in wanted:
                    if tenant_id in existing:
                        self._audit.append(
                            session,
                            tenant_id=tenant_id,
                            actor=actor,
                            action=action,
                            target=target[:255],
                            detail={"code": code, **detail},
                        )
        except Exception as exc:
            structlog.get_logger("nentang.audit").error("audit.refusal_not_recorded", action=action, error=repr(exc))
            return False
        return True


def actor_home(session: Session, actor: Actor) -> int | None:
    """The tenant an actor belongs to: a user's home, a token's tenant; ``None`` for the system."""
    if not actor.ident.isdigit():
        return None
    if actor.kind == "user":
        return session.scalar(select(User.home_tenant_id).where(User.id == int(actor.ident)))
    if actor.kind == "token":
        return session.scalar(select(ApiToken.tenant_id).where(ApiToken.id == int(actor.ident)))
    return None
