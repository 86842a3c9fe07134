"""Plain sub-selections completed by plan (``kernel/graphql/completion.py``) answer exactly what
graphql-core answers: the same data, and the same errors at the same paths with the same nulls
when a value breaks its type, for every shape the plan takes and every shape it declines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse

from nentang.kernel.graphql.completion import fast_completion

WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@strawberry.type
class Item:
    number: int
    text: str | None
    when: datetime
    tags: list[str]
    notes: list[str | None] | None

    @strawberry.field
    def doubled(self) -> int:  # a resolver of its own: never planned
        return self.number * 2


@strawberry.type
class Page:
    items: list[Item]
    first: Item | None
    total: int


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {"number": 1, "text": "một", "when": WHEN, "tags": ["a"], "notes": [None, "b"]}
    values.update(changes)
    return Item(**values)


@dataclass
class _Bare:  # has no attributes an Item needs
    extra: list[int] = field(default_factory=list)


CASES: dict[str, Page] = {
    "regular": Page(items=[item(), item(number=2, text=None, notes=None)], first=item(number=3), total=2),
    "empty": Page(items=[], first=None, total=0),
    "null_in_non_null_leaf": Page(items=[item()], first=item(number=None), total=1),
    "null_in_non_null_list_item": Page(items=[item(), None], first=None, total=2),  # type: ignore[list-item]
    "scalar_refuses": Page(items=[item()], first=item(number="not a number"), total=1),
    "not_a_list": Page(items=[item()], first=item(tags="abc"), total=1),
    "missing_attribute": Page(items=[item()], first=_Bare(), total=1),  # type: ignore[arg-type]
}


@strawberry.type
class Query:
    @strawberry.field
    def page(self, case: str) -> Page:
        return CASES[case]


SCHEMA = strawberry.Schema(query=Query)
PLAIN = """query($case: String!) { page(case: $case) {
    total items { number text when tags notes } first { __typename number alias: text tags }
} }"""
DECLINED = {
    "a fragment": "query($case: String!) { page(case: $case) { total ...F } } fragment F on Page { items { number } }",
    "a directive": "query($case: String!, $on: Boolean = true) { page(case: $case) { total @include(if: $on) } }",
    "a resolver": "query($case: String!) { page(case: $case) { items { number doubled } } }",
    "a key selected twice": "query($case: String!) { page(case: $case) { total total } }",
}


def run(document: str, context_class: type[Any], **variables: Any) -> ExecutionResult:
    result = execute(SCHEMA._schema, parse(document), executor_class=context_class, variable_values=variables)
    assert isinstance(result, ExecutionResult)
    return result


def answer(result: ExecutionResult) -> tuple[Any, list[tuple[str, Any]]]:
    return result.data, [(error.message, error.path) for error in result.errors or ()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_planned_completion_answers_exactly_like_graphql_core(case: str) -> None:
    base = SCHEMA.execution_context_class  # strawberry's executor, as the endpoint runs it
    fast = fast_completion(base)
    planned = answer(run(PLAIN, fast, case=case))
    assert planned == answer(run(PLAIN, base, case=case))
    assert any(plan is not None for _node, plan in fast.plans.values())  # the plan did run
    assert bool(planned[1]) is (case not in ("regular", "empty"))  # broken values do surface as errors


def test_the_regular_page_is_complete_and_serialised_by_its_scalars() -> None:
    result = run(PLAIN, fast_completion(SCHEMA.execution_context_class), case="regular")
    assert result.errors is None
    page = result.data["page"]  # type: ignore[index]
    assert page["items"][1] == {"number": 2, "text": None, "when": WHEN.isoformat(), "tags": ["a"], "notes": None}
    assert page["first"] == {"__typename": "Item", "number": 3, "alias": "một", "tags": ["a"]}


@pytest.mark.parametrize("why", sorted(DECLINED))
def test_selections_that_are_not_plain_are_left_to_graphql_core(why: str) -> None:
    base = SCHEMA.execution_context_class  # strawberry's executor, as the endpoint runs it
    fast = fast_completion(base)
    document = DECLINED[why]
    for case in ("regular", "null_in_non_null_leaf"):
        assert answer(run(document, fast, case=case)) == answer(run(document, base, case=case))
    page_plans = [plan for (type_name, _), (_node, plan) in fast.plans.items() if type_name == "Page"]
    assert page_plans and all(plan is None for plan in page_plans)


def test_each_schema_keeps_its_own_plans() -> None:
    one, two = fast_completion(SCHEMA.execution_context_class), fast_completion(SCHEMA.execution_context_class)
    run(PLAIN, one, case="regular")
    assert one.plans and not two.plans
