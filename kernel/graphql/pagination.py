"""Cursor pagination for every list of the kernel schema: ``first`` (mandatory, at most the maximum
page size) and an opaque cursor ``after``.

A kernel module returns ``Connection[X]`` (served as ``XConnection`` with ``XEdge``) from a field
that takes ``first: int`` and ``after: str | None = None``; it fetches ``first + 1`` rows after the
decoded cursor and hands them to :func:`connection`, which trims the extra row into
``pageInfo.hasNextPage``. Cursors are URL-safe base64 of a small JSON array (the sort key of the
last row); a client must treat them as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from nentang.sdk.errors import ValidationFailed
from nentang.sdk.graphql import graphql_metadata

T = TypeVar("T")
BAD_CURSOR = "graphql.bad_cursor"


@strawberry.type(description="Where a page ends, and whether another one follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null on an empty page."
    )


@strawberry.type(description="One item of a page, with the cursor that points just after it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="One page of a list: its items and where it ends.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(metadata=graphql_metadata(page_items=True))
    page_info: PageInfo


def encode_cursor(*key: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The key inside ``cursor`` (``None`` for no cursor), checked against ``types``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types, strict=True))
    ):
        raise bad_cursor(cursor)
    return tuple(key)


def bad_cursor(cursor: str) -> ValidationFailed:
    """The error for a cursor this list did not give out (also for a key that decodes but whose
    values a list cannot use, such as a malformed timestamp)."""
    return ValidationFailed(
        f"the cursor {cursor[:40]!r} is not one this list gave out; pass an endCursor of this list as 'after'",
        code=BAD_CURSOR,
    )


def check_first(first: int, max_page_size: int) -> int:
    """``first`` itself, or a ``graphql.page_size`` error (the cost check refuses it earlier too)."""
    if first < 0 or first > max_page_size:
        raise ValidationFailed(f"first must be between 0 and {max_page_size}, not {first}", code="graphql.page_size")
    return first


class _PageEdge:
    """An :class:`Edge` as a page holds it: the cursor is encoded only if the query selects it
    (a page of 1,000 tenants selecting only ``node`` would otherwise encode 1,000 cursors for
    nothing). Served as the edge type: the schema's edge types check no instance (no ``is_type_of``)."""

    __slots__ = ("_cursor", "_cursor_of", "_row", "node")

    def __init__(self, row: Any, node: Any, cursor_of: Callable[[Any], str]) -> None:
        self._row = row
        self._cursor_of = cursor_of
        self._cursor: str | None = None
        self.node = node

    @property
    def cursor(self) -> str:
        if self._cursor is None:
            self._cursor = self._cursor_of(self._row)
        return self._cursor


def connection(rows: Sequence[T], first: int, cursor_of: Callable[[T], str], wrap: Callable[[T], Any]) -> Connection:
    """A page from ``rows`` fetched with ``limit first + 1``."""
    page = rows[:first]
    edges = [_PageEdge(row, wrap(row), cursor_of) for row in page]
    return Connection(
        edges=edges,  # type: ignore[arg-type]  # read as Edge[T]: the same attributes
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
    )
