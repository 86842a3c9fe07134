"""Every principal's grants in a few flat arrays: the compact half of :class:`~.grant_store.GrantStore`.

At national scale a worker answers for two million principals, nearly all of whom hold one grant.
A dict of per-principal tuples costs about 250 bytes each (the key string, the tuple, the pairs, their
ints); here a principal costs one 4-byte slot:

- principals are ``user:<id>`` or ``token:<id>`` with ids handed out by a sequence, so the id itself is
  the index into one ``array('i')`` per kind (a hole costs four bytes);
- a slot holds a *code*: the index of an interned grant list, shared by every principal holding the
  same grants (a few thousand distinct lists: tenants × roles), so a look-up allocates nothing;
- anything that does not fit (another spelling of a principal, an id far past the others, a principal
  granted after the build with an id beyond the array) lives in a small dict beside the arrays.

A slot may also say *stale*: the principal's grants changed since the build, and must be read again.
A principal the build found no grant for is not answered from the table either (a principal made a
moment ago by another worker, whose change this worker has not heard of yet, would be refused): its
first check reads it, and the answer is kept, as a cache would keep it, until it changes.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from typing import Final, final

GrantList = tuple[tuple[int, int], ...]

#: Principal kinds held in arrays, by the prefix of the principal string.
_KINDS: Final = {"user": 0, "token": 1}
#: An id has at most this many digits to be an array index (beyond: the dict beside).
MAX_DIGITS: Final = 9
#: The code of a slot whose grants must be read again.
STALE: Final = -1
#: The code of a slot the build found no grant for (read on its first check).
UNREAD: Final = 0
#: The code of "read: no grants".
NONE_HELD: Final = 1
#: An array grows to hold an id only while it stays this dense (ids per grant read, plus a margin).
_SPARSE_FACTOR: Final = 4
_SPARSE_MARGIN: Final = 1 << 20


def array_slot(principal: str) -> tuple[int, int] | None:
    """``(kind, id)`` for a principal held in the arrays, or ``None`` (held in the dict).

    One spelling per principal: ``user:12``, never ``user:012`` or ``user:+12`` (those are other
    strings, so other principals, and go to the dict with their own spelling)."""
    kind, _, ident = principal.partition(":")
    column = _KINDS.get(kind)
    if column is None or not ident.isdigit() or not ident.isascii() or len(ident) > MAX_DIGITS or ident[0] == "0":
        return None
    return column, int(ident)


@final
class GrantTable:
    """One build of every principal's grants, patched in place as principals are read again.

    Writes happen under the owning store's lock; reads take no lock (an array item or a dict entry
    is read whole under the GIL)."""

    __slots__ = ("_codes", "_columns", "_extra", "_lists", "rows")

    def __init__(self) -> None:
        self._columns: tuple[array[int], ...] = tuple(array("i") for _ in _KINDS)
        self._lists: list[GrantList] = [(), ()]  # UNREAD, NONE_HELD
        self._codes: dict[GrantList, int] = {(): NONE_HELD}
        #: Principals outside the arrays: their grants, or ``None`` when stale.
        self._extra: dict[str, GrantList | None] = {}
        #: Grant rows read at build time.
        self.rows = 0

    @classmethod
    def build(cls, rows: Iterable[tuple[str, int, int]]) -> GrantTable:
        """From ``(principal, tenant_id, role_id)`` rows, in any order."""
        table = cls()
        columns, lists, extra, intern = table._columns, table._lists, table._extra, table._intern
        singles: dict[tuple[int, int], int] = {}
        count = 0
        for principal, tenant_id, role_id in rows:
            count += 1
            pair = (tenant_id, role_id)
            slot = array_slot(principal)
            if slot is not None:
                column, index = columns[slot[0]], slot[1]
                if index >= len(column) and not table._grow(column, index, count):
                    slot = None
            if slot is None:
                extra[principal] = _merged(extra.get(principal) or (), pair)
                continue
            code = column[index]
            if code == UNREAD:
                single = singles.get(pair)
                if single is None:
                    single = singles[pair] = intern((pair,))
                column[index] = single
            else:
                column[index] = intern(_merged(lists[code], pair))
        table.rows = count
        return table

    @staticmethod
    def _grow(column: array[int], index: int, rows: int) -> bool:
        """Extend ``column`` to hold ``index`` (at least doubling), unless that would make it sparse."""
        if index > _SPARSE_FACTOR * rows + _SPARSE_MARGIN:
            return False
        column.frombytes(bytes(4 * max(index + 1 - len(column), len(column))))
        return True

    def _intern(self, grants: GrantList) -> int:
        code = self._codes.get(grants)
        if code is None:
            code = self._codes[grants] = len(self._lists)
            self._lists.append(grants)
        return code

    # -- reads (no lock) ---------------------------------------------------------------------

    def lookup(self, principal: str) -> GrantList | None:
        """The principal's grants, or ``None`` when they must be read from the database."""
        if self._extra:
            held = self._extra.get(principal, self)
            if held is not self:
                return held  # type: ignore[return-value]  # a GrantList or None, never the table
        slot = array_slot(principal)
        if slot is None:
            return None  # not in the dict: not read yet
        column = self._columns[slot[0]]
        if slot[1] >= len(column):
            return None
        code = column[slot[1]]
        return None if code <= UNREAD else self._lists[code]

    # -- writes (under the store's lock) ------------------------------------------------------

    def mark_stale(self, principal: str) -> None:
        self._put(principal, None)

    def store(self, principal: str, grants: GrantList) -> None:
        self._put(principal, tuple(sorted(set(grants))))

    def _put(self, principal: str, grants: GrantList | None) -> None:
        slot = array_slot(principal)
        # a principal the build put in the dict stays there (its array slot, if any, says nothing)
        if slot is not None and slot[1] < len(self._columns[slot[0]]) and principal not in self._extra:
            self._columns[slot[0]][slot[1]] = STALE if grants is None else self._intern(grants)
        else:
            self._extra[principal] = grants

    # -- size ------------------------------------------------------------------------------------

    def principals(self) -> int:
        """Principals holding at least one grant (a count over the arrays: not for the hot path)."""
        held = sum(len(c) - c.count(UNREAD) - c.count(NONE_HELD) for c in self._columns)
        return held + sum(1 for g in self._extra.values() if g != ())

    def nbytes(self) -> int:
        """Bytes of the arrays, the interned lists and the dict beside (what a build holds)."""
        total = sum(sys.getsizeof(c) for c in self._columns) + sys.getsizeof(self._lists) + sys.getsizeof(self._codes)
        for grants in self._lists:
            total += sys.getsizeof(grants) + sum(sys.getsizeof(pair) for pair in grants)
        total += sys.getsizeof(self._extra) + sum(sys.getsizeof(p) for p in self._extra)
        return total


def _merged(grants: GrantList, pair: tuple[int, int]) -> GrantList:
    return grants if pair in grants else tuple(sorted((*grants, pair)))
