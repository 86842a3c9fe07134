"""Seeding the national tree from the ``vietnam-provinces`` data: 1 central + 34 provinces + 3,321 communes.

Each test here inserts the whole tree (3,356 rows), so there are only two.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from vietnam_provinces import Province, Ward

from nentang.kernel.audit.log import AuditLog
from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import Tenant, TenantKind, TenantStatus
from nentang.kernel.tenancy.seed import CENTRAL_CODE, seed_national_tree

SEEDER = Actor.system("seed-test")


def all_tenants(kernel: Kernel) -> dict[str, Tenant]:
    with kernel.db.platform() as session:
        rows = session.scalars(select(Tenant)).all()
        session.expunge_all()
    return {row.code: row for row in rows}


def audit_of(kernel: Kernel, tenant_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with kernel.db.tenant(tenant_id) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(r.action, r.actor, json.loads(r.detail)) for r in rows]


def test_seed_builds_the_national_tree_once(kernel: Kernel) -> None:
    result = seed_national_tree(kernel.db, kernel.tenants, kernel.audit, SEEDER)
    assert (result.provinces, result.communes, result.created) == (34, 3321, True)
    assert kernel.tenants.count() == 1 + 34 + 3321

    tenants = all_tenants(kernel)
    assert len(tenants) == 3356
    central = tenants[CENTRAL_CODE]
    assert (central.kind, central.parent_id, central.depth, central.path) == ("central", None, 0, f"/{central.id}/")
    assert [t.code for t in tenants.values() if t.kind == TenantKind.CENTRAL] == [CENTRAL_CODE]

    provinces = list(Province.iter_all())
    wards = list(Ward.iter_all())
    assert (len(provinces), len(wards)) == (34, 3321)
    by_id = {t.id: t for t in tenants.values()}

    for province in provinces:
        row = tenants[f"{int(province.code):02d}"]
        assert len(row.code) == 2
        assert (row.kind, row.name, row.division_type) == ("province", province.name, province.division_type.value)
        assert (row.parent_id, row.depth, row.path) == (central.id, 1, f"{central.path}{row.id}/")
    assert {t.code for t in tenants.values() if t.kind == TenantKind.PROVINCE} == {
        f"{int(p.code):02d}" for p in provinces
    }

    for ward in wards:
        row = tenants[f"{int(ward.code):05d}"]
        assert len(row.code) == 5
        assert (row.kind, row.name, row.division_type) == ("commune", ward.name, ward.division_type.value)
        parent = by_id[row.parent_id]
        assert parent.code == f"{int(ward.province_code):02d}", ward
        assert (row.depth, row.path) == (2, f"{parent.path}{row.id}/")
    assert sum(1 for t in tenants.values() if t.kind == TenantKind.COMMUNE) == 3321
    assert all(t.status == TenantStatus.ACTIVE for t in tenants.values())

    # Spot checks against the public data: Hà Nội is 01, its Phường Hoàn Kiếm is 00070.
    assert tenants["01"].name == "Thành phố Hà Nội"
    assert tenants["00070"].name == "Phường Hoàn Kiếm"
    assert [a.code for a in kernel.tenants.ancestors("00070")] == [CENTRAL_CODE, "01"]
    assert len(kernel.tenants.children("01")) == sum(1 for w in wards if int(w.province_code) == 1)

    # One "tenant.seed" entry, on the central tenant, saying what was seeded from which data.
    central_audit = audit_of(kernel, central.id)
    seeds = [entry for entry in central_audit if entry[0] == "tenant.seed"]
    assert len(seeds) == 1
    _, actor, detail = seeds[0]
    assert actor == "system:seed-test"
    assert detail["source"] == "vietnam-provinces"
    assert (detail["provinces"], detail["communes"]) == (34, 3321)
    assert detail["data_version"]
    assert [entry[0] for entry in central_audit] == ["tenant.create", "tenant.seed"]
    (report,) = verify_chains(kernel.db, [central.id])
    assert report.ok and report.checked == 2
    assert audit_of(kernel, tenants["01"].id) == []  # the bulk rows are covered by the one seed entry

    # Seeding again finds the tree and writes nothing.
    again = seed_national_tree(kernel.db, kernel.tenants, kernel.audit, SEEDER)
    assert again.created is False
    assert kernel.tenants.count() == 3356
    assert all_tenants(kernel).keys() == tenants.keys()
    (report,) = verify_chains(kernel.db, [central.id])
    assert report.ok and report.checked == 2


class _FailingAudit:
    """Stands in for the audit log and fails at the seed's last step, as a crash or a full disk would."""

    def append(self, *_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full while writing the seed's audit entry")


def test_a_seed_that_fails_leaves_nothing_and_can_be_run_again(kernel: Kernel) -> None:
    failing: Any = _FailingAudit()
    with pytest.raises(RuntimeError, match="disk full"):
        seed_national_tree(kernel.db, kernel.tenants, failing, SEEDER)
    # Not even the central tenant may remain: a half-seeded tree would be taken for a seeded one.
    assert kernel.tenants.count() == 0
    assert kernel.tenants.codes_by_id() == {}

    result = seed_national_tree(kernel.db, kernel.tenants, AuditLog(), SEEDER)
    assert result.created is True
    assert kernel.tenants.count() == 3356
    assert len(kernel.tenants.children(CENTRAL_CODE)) == 34
