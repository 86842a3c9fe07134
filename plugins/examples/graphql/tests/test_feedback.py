"""Tests of the feedback example: GraphQL over the kernel's real app, as users holding roles."""

from __future__ import annotations

import pytest

from nentang.sdk.testing import HookRecorder, MakeGraphQLClient, MakeUser, TenantTree

SUBMIT = "mutation($text: String!) { feedback_submit(text: $text) { number text } }"
ITEMS = "query($after: Int) { feedback_items(first: 2, after: $after) { items { number text } endCursor hasMore } }"

pytestmark = pytest.mark.nentang_plugins("feedback")  # enabled at the commune 00001 for every test


def test_the_desk_records_feedback_and_the_officer_reads_it(
    nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient
) -> None:
    desk, officer = nentang_user("feedback.desk"), nentang_user("feedback.officer")
    added = nentang_graphql(desk).data(SUBMIT, {"text": "Đèn đường ngõ 5 bị hỏng"})
    assert added == {"feedback_submit": {"number": 1, "text": "Đèn đường ngõ 5 bị hỏng"}}
    page = nentang_graphql(officer).data(ITEMS)["feedback_items"]
    assert page == {"items": [{"number": 1, "text": "Đèn đường ngõ 5 bị hỏng"}], "endCursor": 1, "hasMore": False}


def test_pages_follow_the_cursor(nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient) -> None:
    gql = nentang_graphql(nentang_user("feedback.officer"))
    for text in ("Một", "Hai", "Ba"):
        gql.data(SUBMIT, {"text": text})
    first = gql.data(ITEMS)["feedback_items"]
    second = gql.data(ITEMS, {"after": first["endCursor"]})["feedback_items"]
    assert [i["text"] for i in first["items"]] == ["Một", "Hai"] and first["hasMore"]
    assert [i["text"] for i in second["items"]] == ["Ba"] and not second["hasMore"]


def test_same_day_counts_the_days_feedback_for_the_whole_page_at_once(
    nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient
) -> None:
    gql = nentang_graphql(nentang_user("feedback.officer"))
    for text in ("Một", "Hai", "Ba"):
        gql.data(SUBMIT, {"text": text})
    page = gql.data("{ feedback_items(first: 10) { items { number sameDay } } }")["feedback_items"]
    assert page["items"] == [{"number": n, "sameDay": 3} for n in (1, 2, 3)]  # submitted today, all three
    desk = nentang_graphql(nentang_user("feedback.desk"))  # may submit, may not read the day's count
    refused = desk('mutation { feedback_submit(text: "Bốn") { number sameDay } }')
    assert refused.codes == ("permission.denied",)


def test_without_the_permission_the_caller_is_refused_and_nothing_changes(
    nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient
) -> None:
    desk = nentang_graphql(nentang_user("feedback.desk"))
    assert desk(ITEMS).codes == ("permission.denied",)  # the desk records, it does not read
    nobody = nentang_graphql(nentang_user())
    assert nobody(SUBMIT, {"text": "Rác chưa thu gom"}).codes == ("permission.denied",)
    assert nentang_graphql(nentang_user("feedback.officer")).data(ITEMS)["feedback_items"]["items"] == []


def test_bad_input_gets_a_clear_error(nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient) -> None:
    result = nentang_graphql(nentang_user("feedback.desk"))(SUBMIT, {"text": "   "})
    assert result.codes == ("feedback.empty",)


def test_a_submission_emits_feedback_submitted(
    nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient, nentang_hooks: HookRecorder, nentang_tree: TenantTree
) -> None:
    nentang_graphql(nentang_user("feedback.desk")).data(SUBMIT, {"text": "Nước ngập đường"})
    [event] = nentang_hooks.events(nentang_tree.commune, type="feedback.*")
    assert (event.type, event.payload) == ("feedback.submitted", {"number": 1})


def test_the_fields_do_not_exist_where_the_plugin_is_not_enabled(
    nentang_user: MakeUser, nentang_graphql: MakeGraphQLClient, nentang_tree: TenantTree
) -> None:
    officer = nentang_user("feedback.officer", tenant=nentang_tree.other_commune)
    result = nentang_graphql(officer)(ITEMS)
    assert not result.ok and "feedback_items" in str(result.errors)


@pytest.mark.nentang_contract("feedback")
def test_feedback_passes_the_contract_suite() -> None:
    """The contract suite runs after this (empty) body: fields absent where disabled, permissions declared..."""
