"""The tenant tree: provisioning, reads, moves, status, the audit trail, and bad input.

Every bad-input test checks the error's type and wording *and* that nothing changed: the same
tenants with the same paths, and the same audit entries.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from nentang.kernel.audit.models import AuditEntry
from nentang.kernel.audit.verify import verify_chains
from nentang.kernel.runtime import Kernel
from nentang.kernel.tenancy.models import TenantKind, TenantStatus
from nentang.kernel.tenancy.service import TenantInfo
from nentang.sdk.errors import TenantCodeTaken, TenantNotFound, TenantRuleViolated, ValidationFailed
from tests.conftest import ACTOR, Tree

# -- helpers -----------------------------------------------------------------------------------


def make_unit(kernel: Kernel, code: str, parent: str, name: str | None = None) -> TenantInfo:
    return kernel.tenants.create(
        code=code, name=name or f"Đơn vị {code}", kind=TenantKind.UNIT, parent_code=parent, actor=ACTOR
    )


def snapshot(kernel: Kernel) -> list[tuple[object, ...]]:
    """Everything about every tenant that a failed operation must leave alone."""
    return [
        (t.id, t.code, t.name, t.kind, t.parent_id, t.path, t.depth, t.status, t.updated_at)
        for t in kernel.tenants.list(limit=1000)
    ]


def audit_counts(kernel: Kernel) -> dict[str, int]:
    """Entries per tenant code, after checking that every chain is intact."""
    codes = kernel.tenants.codes_by_id()
    reports = verify_chains(kernel.db, codes)
    broken = [r for r in reports if not r.ok]
    assert broken == [], broken
    return {codes[r.tenant_id]: r.checked for r in reports}


def audit_entries(kernel: Kernel, tenant_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with kernel.db.tenant(tenant_id) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(r.action, r.target, json.loads(r.detail)) for r in rows]


def codes(tenants: list[TenantInfo]) -> list[str]:
    return [t.code for t in tenants]


@pytest.fixture
def deep(kernel: Kernel, tree: Tree) -> list[TenantInfo]:
    """Units under commune 00001, each under the one before: 00001 → U1 → U2 → U3."""
    u1 = make_unit(kernel, "U1", "00001")
    u2 = make_unit(kernel, "U2", "U1")
    u3 = make_unit(kernel, "U3", "U2")
    return [u1, u2, u3]


class Unchanged:
    """Snapshot the tree and the audit log; ``check()`` asserts neither moved."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.tenants = snapshot(kernel)
        self.audit = audit_counts(kernel)

    def check(self) -> None:
        assert snapshot(self.kernel) == self.tenants
        assert audit_counts(self.kernel) == self.audit


# -- provisioning and reads --------------------------------------------------------------------


def test_tree_levels_get_kind_parent_path_and_depth(kernel: Kernel, tree: Tree) -> None:
    expected = [
        (tree.central, TenantKind.CENTRAL, None, 0),
        (tree.p1, TenantKind.PROVINCE, tree.central, 1),
        (tree.p2, TenantKind.PROVINCE, tree.central, 1),
        (tree.c1, TenantKind.COMMUNE, tree.p1, 2),
        (tree.c2, TenantKind.COMMUNE, tree.p1, 2),
        (tree.c3, TenantKind.COMMUNE, tree.p2, 2),
    ]
    for tenant, kind, parent, depth in expected:
        assert tenant.kind == kind
        assert tenant.depth == depth
        assert tenant.status == TenantStatus.ACTIVE
        assert tenant.parent_id == (parent.id if parent else None)
        assert tenant.path == f"{parent.path if parent else '/'}{tenant.id}/"
    assert tree.central.path == f"/{tree.central.id}/"
    assert kernel.tenants.count() == 6
    assert len({t.id for t, *_ in expected}) == 6


def test_units_nest_to_any_depth(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    u1, u2, u3 = deep
    assert [u.depth for u in deep] == [3, 4, 5]
    assert u1.parent_id == tree.c1.id and u2.parent_id == u1.id and u3.parent_id == u2.id
    assert u3.path == f"/{tree.central.id}/{tree.p1.id}/{tree.c1.id}/{u1.id}/{u2.id}/{u3.id}/"
    # A unit may also sit directly under a province or under the central level.
    under_province = make_unit(kernel, "SO-GDDT.01", "01", "Sở Giáo dục và Đào tạo")
    under_central = make_unit(kernel, "BO_NOI_VU", "TW", "Bộ Nội vụ")
    assert (under_province.depth, under_province.parent_id) == (2, tree.p1.id)
    assert (under_central.depth, under_central.parent_id) == (1, tree.central.id)
    assert kernel.tenants.count() == 11


def test_created_tenant_reads_back_identically(kernel: Kernel, tree: Tree) -> None:
    created = kernel.tenants.create(
        code="00004",
        name="  Xã Bốn  ",
        kind="commune",
        parent_code="02",
        actor=ACTOR,
        division_type="xã",
    )
    assert created.name == "Xã Bốn"  # surrounding blanks trimmed
    assert created.division_type == "xã"
    assert kernel.tenants.get("00004") == created
    assert kernel.tenants.get_by_id(created.id) == created
    assert timedelta(0) <= created.updated_at - created.created_at < timedelta(seconds=5)


def test_timestamps_are_utc_aware_on_every_database(kernel: Kernel, tree: Tree) -> None:
    for tenant in (tree.c1, kernel.tenants.get("00001"), kernel.tenants.get_by_id(tree.c1.id)):
        assert tenant.created_at.tzinfo is not None, tenant.created_at
        assert tenant.created_at.utcoffset() == timedelta(0)
        assert tenant.updated_at.utcoffset() == timedelta(0)


def test_get_unknown_tenant_is_not_found(kernel: Kernel, tree: Tree) -> None:
    with pytest.raises(TenantNotFound, match="no tenant with code 'ZZ'"):
        kernel.tenants.get("ZZ")
    with pytest.raises(TenantNotFound, match="no tenant with code ''"):
        kernel.tenants.get("")
    with pytest.raises(TenantNotFound, match="no tenant with id 999999"):
        kernel.tenants.get_by_id(999999)


def test_children_are_direct_children_sorted_by_code(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    make_unit(kernel, "A-UNIT", "TW")
    assert codes(kernel.tenants.children("TW")) == ["01", "02", "A-UNIT"]
    assert codes(kernel.tenants.children("01")) == ["00001", "00002"]
    assert codes(kernel.tenants.children("00001")) == ["U1"]
    assert kernel.tenants.children("U3") == []
    with pytest.raises(TenantNotFound):
        kernel.tenants.children("nope")


def test_subtree_lists_parents_before_children(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    make_unit(kernel, "U0", "01")  # a unit beside the communes, one level up from U1
    subtree = kernel.tenants.subtree("01")
    assert sorted(codes(subtree)) == sorted(["01", "00001", "00002", "U0", "U1", "U2", "U3"])
    assert subtree[0].code == "01"
    seen = {subtree[0].id}
    for tenant in subtree[1:]:
        assert tenant.parent_id in seen, f"{tenant.code} listed before its parent"
        seen.add(tenant.id)
    assert [t.depth for t in subtree] == sorted(t.depth for t in subtree)
    assert codes(kernel.tenants.subtree("U3")) == ["U3"]
    assert len(kernel.tenants.subtree("TW")) == kernel.tenants.count() == 10
    with pytest.raises(TenantNotFound):
        kernel.tenants.subtree("nope")


def test_subtree_ids_match_the_subtree(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    assert kernel.tenants.subtree_ids(tree.p1.id) == {t.id for t in kernel.tenants.subtree("01")}
    assert kernel.tenants.subtree_ids(tree.p2.id) == {tree.p2.id, tree.c3.id}
    assert kernel.tenants.subtree_ids(deep[1].id) == {deep[1].id, deep[2].id}
    with pytest.raises(TenantNotFound, match="no tenant with id 999999"):
        kernel.tenants.subtree_ids(999999)


def test_subtree_is_not_fooled_by_ids_sharing_a_prefix(kernel: Kernel, tree: Tree) -> None:
    """Paths are strings: /1/2/ must not claim /1/20/ or /1/21/ (ids that start with the same digits)."""
    prefix = str(tree.p1.id)
    lookalike = None
    for n in range(3, 200):
        made = kernel.tenants.create(code=f"P{n:03d}", name=f"Tỉnh {n}", kind="province", parent_code="TW", actor=ACTOR)
        if str(made.id).startswith(prefix):
            lookalike = made
            break
    assert lookalike is not None and lookalike.id != tree.p1.id
    make_unit(kernel, "UX", lookalike.code)
    p1_subtree = kernel.tenants.subtree_ids(tree.p1.id)
    assert p1_subtree == {tree.p1.id, tree.c1.id, tree.c2.id}
    assert codes(kernel.tenants.subtree("01")) == ["01", "00001", "00002"]
    assert codes(kernel.tenants.subtree(lookalike.code)) == [lookalike.code, "UX"]
    # Moving p1's commune must not drag the look-alike's unit along.
    kernel.tenants.move("00001", "02", actor=ACTOR)
    assert kernel.tenants.get("UX").path == f"{lookalike.path}{kernel.tenants.get('UX').id}/"


def test_ancestors_are_root_first(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    assert kernel.tenants.ancestors("TW") == []
    assert codes(kernel.tenants.ancestors("01")) == ["TW"]
    assert codes(kernel.tenants.ancestors("00001")) == ["TW", "01"]
    assert codes(kernel.tenants.ancestors("U3")) == ["TW", "01", "00001", "U1", "U2"]
    u3 = kernel.tenants.get("U3")
    assert u3.ancestor_ids == [a.id for a in kernel.tenants.ancestors("U3")]
    with pytest.raises(TenantNotFound):
        kernel.tenants.ancestors("nope")


def test_list_pages_by_code(kernel: Kernel, tree: Tree) -> None:
    everything = codes(kernel.tenants.list())
    assert everything == ["00001", "00002", "00003", "01", "02", "TW"]
    assert codes(kernel.tenants.list(limit=2)) == ["00001", "00002"]
    assert codes(kernel.tenants.list(limit=2, after_code="00002")) == ["00003", "01"]
    pages: list[str] = []
    after = ""
    while page := kernel.tenants.list(limit=4, after_code=after):
        pages.extend(codes(page))
        after = page[-1].code
    assert pages == everything
    assert kernel.tenants.list(after_code="TW") == []


def test_list_filters_by_kind(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    assert codes(kernel.tenants.list(kind=TenantKind.CENTRAL)) == ["TW"]
    assert codes(kernel.tenants.list(kind=TenantKind.PROVINCE)) == ["01", "02"]
    assert codes(kernel.tenants.list(kind=TenantKind.COMMUNE)) == ["00001", "00002", "00003"]
    assert codes(kernel.tenants.list(kind=TenantKind.UNIT)) == ["U1", "U2", "U3"]
    # The kind filter applies before the limit, and paging works within a kind.
    assert codes(kernel.tenants.list(kind=TenantKind.UNIT, limit=2)) == ["U1", "U2"]
    assert codes(kernel.tenants.list(kind=TenantKind.COMMUNE, limit=2, after_code="00001")) == ["00002", "00003"]
    assert kernel.tenants.count() == 9


def test_list_limit_out_of_range_is_refused(kernel: Kernel, tree: Tree, subtests: pytest.Subtests) -> None:
    for limit in (0, -1, 1001):
        with subtests.test(limit=limit), pytest.raises(ValidationFailed, match=f"between 1 and 1000, not {limit}"):
            kernel.tenants.list(limit=limit)


def test_list_limit_bounds_are_accepted(kernel: Kernel, tree: Tree) -> None:
    assert len(kernel.tenants.list(limit=1)) == 1
    assert len(kernel.tenants.list(limit=1000)) == 6


def test_count_on_an_empty_tree(kernel: Kernel) -> None:
    assert kernel.tenants.count() == 0
    assert kernel.tenants.list() == []


# -- status ------------------------------------------------------------------------------------


def test_suspending_a_province_pauses_everything_below_it(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    t = kernel.tenants
    assert all(t.is_serving(x) for x in t.subtree("TW"))
    suspended = t.suspend("01", actor=ACTOR, reason="sáp nhập")
    assert suspended.status == TenantStatus.SUSPENDED
    assert t.get("01").status == TenantStatus.SUSPENDED
    assert not t.is_serving(t.get("01"))
    # The commune itself is still "active", but it sits under a suspended province.
    assert t.get("00001").status == TenantStatus.ACTIVE
    assert not t.is_serving(t.get("00001"))
    assert not t.is_serving(t.get("U3"))
    # Siblings and the rest of the country keep serving.
    assert t.is_serving(t.get("TW"))
    assert t.is_serving(t.get("02"))
    assert t.is_serving(t.get("00003"))
    t.reactivate("01", actor=ACTOR)
    assert all(t.is_serving(x) for x in t.subtree("TW"))


def test_a_suspended_leaf_does_not_pause_its_parent(kernel: Kernel, tree: Tree) -> None:
    kernel.tenants.suspend("00001", actor=ACTOR)
    assert not kernel.tenants.is_serving(kernel.tenants.get("00001"))
    assert kernel.tenants.is_serving(kernel.tenants.get("01"))
    assert kernel.tenants.is_serving(kernel.tenants.get("00002"))


def test_suspend_twice_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree) -> None:
    kernel.tenants.suspend("01", actor=ACTOR)
    before = Unchanged(kernel)
    with pytest.raises(TenantRuleViolated, match="tenant '01' is already suspended"):
        kernel.tenants.suspend("01", actor=ACTOR)
    before.check()
    with pytest.raises(TenantRuleViolated, match="tenant '02' is already active"):
        kernel.tenants.reactivate("02", actor=ACTOR)
    before.check()
    with pytest.raises(TenantNotFound):
        kernel.tenants.suspend("nope", actor=ACTOR)
    before.check()


# -- moves -------------------------------------------------------------------------------------


def test_move_rewrites_the_whole_subtree(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    t = kernel.tenants
    moved = t.move("00001", "02", actor=ACTOR)
    assert moved.parent_id == tree.p2.id
    assert moved.path == f"{tree.p2.path}{tree.c1.id}/"
    assert moved.depth == 2
    u3 = t.get("U3")
    assert u3.path == f"{moved.path}{deep[0].id}/{deep[1].id}/{deep[2].id}/"
    assert codes(t.ancestors("U3")) == ["TW", "02", "00001", "U1", "U2"]
    assert codes(t.children("02")) == ["00001", "00003"]
    assert codes(t.children("01")) == ["00002"]
    assert t.subtree_ids(tree.p1.id) == {tree.p1.id, tree.c2.id}
    assert t.subtree_ids(tree.p2.id) == {tree.p2.id, tree.c3.id, tree.c1.id, *(u.id for u in deep)}
    # Tenants outside the moved subtree keep their paths.
    assert t.get("00002").path == tree.c2.path
    assert t.get("00003").path == tree.c3.path


def test_move_changes_depths_of_every_descendant(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    t = kernel.tenants
    t.move("U1", "TW", actor=ACTOR)  # from depth 3 to depth 1
    assert [t.get(c).depth for c in ("U1", "U2", "U3")] == [1, 2, 3]
    assert codes(t.ancestors("U3")) == ["TW", "U1", "U2"]
    assert t.get("U3").path == f"/{tree.central.id}/{deep[0].id}/{deep[1].id}/{deep[2].id}/"
    assert t.children("00001") == []
    t.move("U2", "00003", actor=ACTOR)  # deeper again, and across provinces
    assert [t.get(c).depth for c in ("U1", "U2", "U3")] == [1, 3, 4]
    assert codes(t.ancestors("U3")) == ["TW", "02", "00003", "U2"]
    assert codes(t.subtree("U1")) == ["U1"]
    assert {x.code for x in t.subtree("02")} == {"02", "00003", "U2", "U3"}


def test_move_is_audited_on_the_moved_tenant(kernel: Kernel, tree: Tree) -> None:
    before = audit_counts(kernel)
    kernel.tenants.move("00001", "02", actor=ACTOR)
    after = audit_counts(kernel)
    assert after["00001"] == before["00001"] + 1
    assert {k: v for k, v in after.items() if k != "00001"} == {k: v for k, v in before.items() if k != "00001"}
    assert audit_entries(kernel, tree.c1.id)[-1] == ("tenant.move", "00001", {"from": "01", "to": "02"})


def test_move_under_itself_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree, deep: list[TenantInfo]) -> None:
    before = Unchanged(kernel)
    with pytest.raises(TenantRuleViolated, match=r"cannot move 'U1' under 'U1'.*the tenant itself.*cycle"):
        kernel.tenants.move("U1", "U1", actor=ACTOR)
    before.check()


def test_move_under_a_descendant_is_refused_and_changes_nothing(
    kernel: Kernel, tree: Tree, deep: list[TenantInfo], subtests: pytest.Subtests
) -> None:
    before = Unchanged(kernel)
    for code, under in [("U1", "U3"), ("U1", "U2"), ("TW", "U3"), ("01", "00002")]:
        with subtests.test(code=code, under=under):
            with pytest.raises(TenantRuleViolated, match=f"cannot move '{code}' under '{under}'.*below it.*cycle"):
                kernel.tenants.move(code, under, actor=ACTOR)
            before.check()


def test_move_to_a_wrong_kind_of_parent_is_refused(
    kernel: Kernel, tree: Tree, deep: list[TenantInfo], subtests: pytest.Subtests
) -> None:
    cases = [
        ("00001", "TW", r"a commune tenant \('00001'\) cannot be placed under 'TW' \(central\)"),
        ("00001", "00002", r"a commune tenant \('00001'\) cannot be placed under '00002' \(commune\)"),
        ("01", "02", r"a province tenant \('01'\) cannot be placed under '02' \(province\); allowed parents: central"),
        ("02", "U1", r"a province tenant \('02'\) cannot be placed under 'U1' \(unit\)"),
    ]
    before = Unchanged(kernel)
    for code, under, message in cases:
        with subtests.test(code=code, under=under):
            with pytest.raises(TenantRuleViolated, match=message):
                kernel.tenants.move(code, under, actor=ACTOR)
            before.check()


def test_move_with_unknown_codes_is_not_found(kernel: Kernel, tree: Tree) -> None:
    before = Unchanged(kernel)
    with pytest.raises(TenantNotFound, match="no tenant with code 'nope'"):
        kernel.tenants.move("00001", "nope", actor=ACTOR)
    with pytest.raises(TenantNotFound, match="no tenant with code 'nope'"):
        kernel.tenants.move("nope", "01", actor=ACTOR)
    before.check()


# -- the audit trail ---------------------------------------------------------------------------


def test_every_write_appends_one_audit_entry(kernel: Kernel, tree: Tree) -> None:
    t = kernel.tenants

    def chain_length(tenant_id: int) -> int:
        (report,) = verify_chains(kernel.db, [tenant_id])
        assert report.ok, report
        return report.checked

    unit = make_unit(kernel, "UBND", "00001", "Ủy ban nhân dân")
    assert chain_length(unit.id) == 1
    t.rename("UBND", "UBND phường", actor=ACTOR)
    assert chain_length(unit.id) == 2
    t.move("UBND", "00002", actor=ACTOR)
    assert chain_length(unit.id) == 3
    t.suspend("UBND", actor=ACTOR, reason="kiểm tra")
    assert chain_length(unit.id) == 4
    t.reactivate("UBND", actor=ACTOR)
    assert chain_length(unit.id) == 5
    assert audit_entries(kernel, unit.id) == [
        ("tenant.create", "UBND", {"name": "Ủy ban nhân dân", "kind": "unit", "parent": "00001"}),
        ("tenant.rename", "UBND", {"from": "Ủy ban nhân dân", "to": "UBND phường"}),
        ("tenant.move", "UBND", {"from": "00001", "to": "00002"}),
        ("tenant.suspend", "UBND", {"reason": "kiểm tra"}),
        ("tenant.reactivate", "UBND", {}),
    ]
    # Each act is recorded on the tenant acted on, not on its parents.
    assert audit_counts(kernel) == {"TW": 1, "01": 1, "02": 1, "00001": 1, "00002": 1, "00003": 1, "UBND": 5}
    with kernel.db.tenant(unit.id) as session:
        actors = set(session.scalars(select(AuditEntry.actor)))
    assert actors == {"system:tests"}


def test_rename_changes_only_the_name(kernel: Kernel, tree: Tree) -> None:
    renamed = kernel.tenants.rename("01", "  Thủ đô Hà Nội ", actor=ACTOR)
    assert renamed.name == "Thủ đô Hà Nội"
    again = kernel.tenants.get("01")
    assert (again.name, again.code, again.path, again.parent_id) == (
        "Thủ đô Hà Nội",
        "01",
        tree.p1.path,
        tree.p1.parent_id,
    )
    assert again.updated_at >= tree.p1.updated_at
    assert again.created_at == tree.p1.created_at


def test_rename_to_a_bad_name_is_refused(kernel: Kernel, tree: Tree, subtests: pytest.Subtests) -> None:
    before = Unchanged(kernel)
    for name in ("", "   ", "x" * 256):
        with subtests.test(name=name[:10]):
            with pytest.raises(ValidationFailed, match="tenant name must be 1-255 characters"):
                kernel.tenants.rename("01", name, actor=ACTOR)
            before.check()


# -- bad input on create -----------------------------------------------------------------------


def test_duplicate_code_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree, subtests: pytest.Subtests) -> None:
    cases = [
        ("00001", "commune", "01"),  # the same place again
        ("00001", "commune", "02"),  # under another parent
        ("00001", "unit", "00003"),  # as another kind
        ("TW", "unit", "01"),
    ]
    before = Unchanged(kernel)
    for code, kind, parent in cases:
        with subtests.test(code=code, kind=kind, parent=parent):
            with pytest.raises(TenantCodeTaken, match=f"a tenant with code '{code}' already exists"):
                kernel.tenants.create(code=code, name="Bản sao", kind=kind, parent_code=parent, actor=ACTOR)
            before.check()
    assert kernel.tenants.count() == 6


def test_unknown_parent_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree) -> None:
    before = Unchanged(kernel)
    with pytest.raises(TenantNotFound, match="no tenant with code '99'"):
        kernel.tenants.create(code="00099", name="Xã lạc", kind="commune", parent_code="99", actor=ACTOR)
    before.check()
    with pytest.raises(TenantNotFound):
        kernel.tenants.get("00099")


WRONG_PLACEMENTS = [
    ("00009", "commune", "TW", r"a commune tenant \('00009'\) cannot be placed under 'TW' \(central\)"),
    ("03", "province", "01", r"a province tenant \('03'\) cannot be placed under '01' \(province\)"),
    ("03", "province", None, r"a province tenant \('03'\) cannot be placed at the root; allowed parents: central"),
    ("00009", "commune", None, r"a commune tenant \('00009'\) cannot be placed at the root"),
    ("TW2", "central", "TW", r"a central tenant \('TW2'\) cannot be placed under 'TW' \(central\)"),
    ("TW2", "central", None, r"the tree already has its central tenant; there is only one root"),
    ("00009", "commune", "00001", r"a commune tenant \('00009'\) cannot be placed under '00001' \(commune\)"),
]


def test_wrong_kind_placement_is_refused_and_changes_nothing(
    kernel: Kernel, tree: Tree, subtests: pytest.Subtests
) -> None:
    before = Unchanged(kernel)
    for code, kind, parent, message in WRONG_PLACEMENTS:
        with subtests.test(code=code, kind=kind, parent=parent):
            with pytest.raises(TenantRuleViolated, match=message):
                kernel.tenants.create(code=code, name="Sai chỗ", kind=kind, parent_code=parent, actor=ACTOR)
            before.check()


def test_invalid_code_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree, subtests: pytest.Subtests) -> None:
    before = Unchanged(kernel)
    for code in ("", " ", "a b", "-lead", ".lead", "x" * 33, "mã", "a/b", "X1\n", "\nX1", "01;DROP"):
        with subtests.test(code=code):
            with pytest.raises(ValidationFailed, match=r"(?s)tenant code .* is not valid: 1-32 characters"):
                kernel.tenants.create(code=code, name="Đơn vị", kind="unit", parent_code="01", actor=ACTOR)
            before.check()


def test_code_of_32_allowed_characters_is_accepted(kernel: Kernel, tree: Tree) -> None:
    code = "S0-GD.DT_" + "x" * 23
    assert len(code) == 32
    assert make_unit(kernel, code, "01").code == code


def test_empty_or_long_name_is_refused_and_changes_nothing(
    kernel: Kernel, tree: Tree, subtests: pytest.Subtests
) -> None:
    before = Unchanged(kernel)
    for name in ("", "   ", "\t\n", "x" * 256):
        with subtests.test(name=name[:10]):
            with pytest.raises(ValidationFailed, match="tenant name must be 1-255 characters"):
                kernel.tenants.create(code="U9", name=name, kind="unit", parent_code="01", actor=ACTOR)
            before.check()


def test_unknown_kind_is_refused_and_changes_nothing(kernel: Kernel, tree: Tree, subtests: pytest.Subtests) -> None:
    before = Unchanged(kernel)
    for kind in ("district", "", "Province"):
        with subtests.test(kind=kind):
            with pytest.raises(ValidationFailed, match=f"unknown tenant kind '{kind}'; use one of: central, province"):
                kernel.tenants.create(code="U9", name="Đơn vị", kind=kind, parent_code="01", actor=ACTOR)
            before.check()


def test_overlong_division_type_is_refused_on_every_database(kernel: Kernel, tree: Tree) -> None:
    before = Unchanged(kernel)
    with pytest.raises(ValidationFailed, match=r"division type .* 64 characters"):
        kernel.tenants.create(
            code="00009", name="Xã Chín", kind="commune", parent_code="01", actor=ACTOR, division_type="x" * 65
        )
    before.check()


def test_first_central_tenant_on_an_empty_tree(kernel: Kernel) -> None:
    central = kernel.tenants.create(code="TW", name="Trung ương", kind="central", parent_code=None, actor=ACTOR)
    assert (central.depth, central.parent_id, central.path) == (0, None, f"/{central.id}/")
    assert kernel.tenants.ancestors("TW") == []
    assert audit_counts(kernel) == {"TW": 1}
