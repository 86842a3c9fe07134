"""Tests of the digest example: enabling with and without its required plugin, and its query."""

from __future__ import annotations

from datetime import datetime

import pytest
from nentang_feedback.api import VIETNAM

from nentang.sdk import ValidationFailed
from nentang.sdk.testing import MakeGraphQLClient, MakeUser, RunningKernel, TenantTree

DAILY = "{ digest_daily(days: 3) { day submitted } }"


def test_digest_is_refused_where_feedback_is_not_enabled(
    nentang_kernel: RunningKernel, nentang_tree: TenantTree
) -> None:
    with pytest.raises(ValidationFailed, match="requires feedback"):
        nentang_kernel.enable("digest", with_dependencies=False)
    assert nentang_kernel.enabled(nentang_tree.commune) == frozenset()


def test_enabling_with_dependencies_enables_feedback_first(nentang_kernel: RunningKernel) -> None:
    nentang_kernel.enable("digest")  # with_dependencies=True, as `nentang plugin enable --with-dependencies`
    assert nentang_kernel.enabled() == {"feedback", "digest"}


@pytest.mark.nentang_plugins("feedback", "digest")
def test_todays_feedback_is_counted(nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient) -> None:
    desk = nentang_graphql(nentang_user("feedback.desk"))
    for text in ("Cống bị tắc", "Cây đổ chắn đường"):
        desk.data("mutation($t: String!) { feedback_submit(text: $t) { number } }", {"t": text})
    days = nentang_graphql(nentang_user("digest.reader")).data(DAILY)["digest_daily"]
    today = datetime.now(VIETNAM).date().isoformat()
    assert [d["submitted"] for d in days] == [0, 0, 2] and days[-1]["day"] == today


@pytest.mark.nentang_plugins("feedback", "digest")
def test_the_digest_needs_its_own_permission(nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient) -> None:
    assert nentang_graphql(nentang_user("feedback.officer"))(DAILY).codes == ("permission.denied",)


@pytest.mark.nentang_contract("digest")
def test_digest_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body (it enables feedback along with digest)."""
