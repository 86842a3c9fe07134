"""The review's GraphQL calls: arguments and selections generated from a field's schema alone."""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import parse, validate

from nentang.sandbox.arguments import MAX_CALLS, argument_sets, document, typical


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Inner:
    depth: int
    label: str | None = None


@strawberry.input
class Outer:
    inner: Inner
    tags: list[str] | None = None


@strawberry.type
class Item:
    name: str
    colour: Colour


@strawberry.type
class Query:
    @strawberry.field
    def search(self, text: str, colour: Colour, where: Outer | None = None, first: int = 10) -> list[Item]:
        return []

    @strawberry.field
    def plain(self) -> int:
        return 1


SCHEMA = strawberry.Schema(query=Query)._schema


def test_every_argument_gets_its_typical_values_one_at_a_time_with_a_full_base_call() -> None:
    field = SCHEMA.query_type.fields["search"]
    calls = argument_sets(field)
    base = calls[0]
    assert base["text"] == "review" and base["colour"] == "RED"
    # nullable nested input filled in, so code behind it is reached
    assert base["where"] == {"inner": {"depth": 1, "label": "review"}, "tags": ["review"]}
    texts = {c["text"] for c in calls}
    assert {"", "-1"} <= texts and any(len(t) > 1000 for t in texts)
    assert {c["colour"] for c in calls} == {"RED", "BLUE"}
    assert None in [c["where"] for c in calls]  # nullable: sometimes null
    assert {0, -1} <= {c["first"] for c in calls}
    assert len(calls) <= MAX_CALLS


def test_input_objects_come_full_and_with_their_required_fields_only() -> None:
    outer = SCHEMA.get_type("Outer")
    values = typical(outer)
    assert {"inner": {"depth": 1}} in values and None in values


def test_the_documents_are_valid_for_the_schema() -> None:
    for name in ("search", "plain"):
        text = document("query", name, SCHEMA.query_type.fields[name])
        assert validate(SCHEMA, parse(text)) == [], text
    assert "name colour" in document("query", "search", SCHEMA.query_type.fields["search"])


@strawberry.input
class Chain:
    value: int
    next: Chain | None = None


@strawberry.type
class Node:
    id: int

    @strawberry.field
    def parent(self) -> Node | None:
        return None


@strawberry.type
class LoopQuery:
    @strawberry.field
    def walk(self, chain: Chain) -> Node:
        return Node(id=1)


def test_a_schema_that_refers_to_itself_gives_bounded_arguments_and_selections() -> None:
    schema = strawberry.Schema(query=LoopQuery)._schema
    field = schema.query_type.fields["walk"]
    depth, chain = 0, argument_sets(field)[0]["chain"]
    while isinstance(chain, dict):
        depth, chain = depth + 1, chain.get("next")
    assert 1 < depth <= 5
    text = document("query", "walk", field)
    assert validate(schema, parse(text)) == [] and text.count("parent") <= 5
