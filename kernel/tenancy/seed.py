"""Seeding the national tree from the ``vietnam-provinces`` data set (two-level government,
since 1 July 2025): the central level, 34 provinces and 3,321 communes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import sqlalchemy as sa
import vietnam_provinces
from sqlalchemy import insert, select, update
from vietnam_provinces import Province, Ward

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.data.database import Database
from nentang.kernel.identity.actor import Actor
from nentang.kernel.tenancy.models import Tenant, TenantKind, utcnow
from nentang.kernel.tenancy.service import TenantService

#: The central level's tenant code (Trung ương).
CENTRAL_CODE = "TW"
CENTRAL_NAME = "Trung ương"


@final
@dataclass(frozen=True, slots=True)
class SeedResult:
    provinces: int
    communes: int
    #: ``False`` when the tree was already there and nothing was written.
    created: bool


def province_code(province: Province) -> str:
    return f"{int(province.code):02d}"


def commune_code(ward: Ward) -> str:
    return f"{int(ward.code):05d}"


def seed_national_tree(db: Database, tenants: TenantService, audit: AuditLog, actor: Actor) -> SeedResult:
    """Provision the national tree into a database that has no central tenant yet.

    One transaction for everything — the central tenant, the bulk rows (set-based statements per
    level, not one round trip per tenant) and one audit entry on the central tenant that says what
    was seeded from which version of the data — so a seed that fails leaves nothing behind and can
    simply be run again.
    """
    provinces = sorted(Province.iter_all(), key=lambda p: int(p.code))
    wards = sorted(Ward.iter_all(), key=lambda w: int(w.code))
    with db.platform() as session:
        if session.scalar(select(Tenant.id).where(Tenant.code == CENTRAL_CODE)) is not None:
            return SeedResult(provinces=len(provinces), communes=len(wards), created=False)
    now = utcnow()
    with db.platform() as session, session.begin():
        central = tenants.create_in(
            session, code=CENTRAL_CODE, name=CENTRAL_NAME, kind=TenantKind.CENTRAL, parent_code=None, actor=actor
        )
        session.execute(
            insert(Tenant),
            [
                _row(province_code(p), p.name, TenantKind.PROVINCE, p.division_type.value, central.id, 1, now)
                for p in provinces
            ],
        )
        _fill_paths(session, depth=1)
        province_ids = dict(
            session.execute(select(Tenant.code, Tenant.id).where(Tenant.kind == TenantKind.PROVINCE)).all()
        )
        session.execute(
            insert(Tenant),
            [
                _row(
                    commune_code(w),
                    w.name,
                    TenantKind.COMMUNE,
                    w.division_type.value,
                    province_ids[f"{int(w.province_code):02d}"],
                    2,
                    now,
                )
                for w in wards
            ],
        )
        _fill_paths(session, depth=2)
        audit.append(
            session,
            tenant_id=central.id,
            actor=actor,
            action="tenant.seed",
            target=CENTRAL_CODE,
            detail={
                "source": "vietnam-provinces",
                "package_version": vietnam_provinces.__version__,
                "data_version": vietnam_provinces.__data_version__,
                "provinces": len(provinces),
                "communes": len(wards),
            },
        )
    return SeedResult(provinces=len(provinces), communes=len(wards), created=True)


def _row(code: str, name: str, kind: TenantKind, division: str, parent_id: int, depth: int, now: object) -> dict:
    return {
        "code": code,
        "name": name,
        "kind": kind.value,
        "division_type": division,
        "parent_id": parent_id,
        "path": "",
        "depth": depth,
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }


def _fill_paths(session: sa.orm.Session, *, depth: int) -> None:
    parent = sa.orm.aliased(Tenant)
    parent_path = select(parent.path).where(parent.id == Tenant.parent_id).scalar_subquery()
    session.execute(
        update(Tenant)
        .where(Tenant.depth == depth, Tenant.path == "")
        .values(path=parent_path + sa.cast(Tenant.id, sa.String) + "/")
        .execution_options(synchronize_session=False)
    )
