"""Where structlog's lines go: each record is one ``write(2)`` of the whole line, newline included.

structlog's ``PrintLogger`` calls ``print``, which writes the message and the ``"\\n"`` separately,
and through a buffered stream that may cut a long line anywhere. Several workers share one stderr
(``nentang serve --workers N`` forks them all onto the same pipe or file), so two records could
share a line and a log shipper would drop both as unparsable. Here a record reaches the file
descriptor in a single ``os.write``, and what the kernel then guarantees depends on what stderr is:

- a **regular file** (``2>>log``, or a file a supervisor opened): the kernel's writes of one
  record go out whole, since Linux serialises writes that share a file description (and an
  ``O_APPEND`` file puts each write at the end). Records are never split.
- a **pipe, FIFO or socket** (systemd, docker, a log collector reading stderr): the kernel
  (POSIX) keeps a write of at most ``PIPE_BUF`` bytes (4,096 on Linux) whole; a longer one may
  be interleaved with another process's write. So a JSON record longer than that is split into
  parts of at most ``PIPE_BUF`` bytes, each a complete JSON object of its own (see
  :func:`split_record`), and no line of the stream is ever a mix of two records.

A record longer than :data:`MAX_RECORD_BYTES` is shortened first: its longest strings are cut
and marked (``…[truncated N chars]``), with ``"truncated": true`` on the record, so a runaway
value cannot flood the log. When stderr has no file descriptor (a test capturing it), the line
is handed to the stream in one ``write`` call and flushed.
"""

from __future__ import annotations

import json
import os
import select
import stat
import threading
from collections.abc import Callable
from itertools import count
from typing import IO, Any, Final

#: The longest record kept whole, in bytes of its line; longer ones lose the tails of their longest strings.
MAX_RECORD_BYTES: Final = 64 * 1024
#: Writes to a pipe up to this size are never interleaved with another writer's (POSIX).
PIPE_BUF: Final = select.PIPE_BUF
_PART_FIELDS: Final = ("timestamp", "level", "event", "request_id", "tenant")
#: What a part (or a record cut to its identity) keeps of each identifying field.
_FIELD_CHARS: Final = 200
_record_ids = count(1)


def shorten_record(line: str, limit: int = MAX_RECORD_BYTES) -> str:
    """``line`` (one JSON object) cut to at most ``limit`` bytes by shortening its longest strings."""
    if len(line.encode()) <= limit:
        return line
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):  # not ours to parse: keep the head, still one line
        return line.encode()[: limit - 40].decode(errors="ignore") + f" …[truncated to {limit} bytes]"
    record["truncated"] = True
    # The largest cap on string lengths that makes the record fit, by bisection (a few dumps at most).
    low, high = 0, max((len(v) for v in record.values() if isinstance(v, str)), default=0)
    if len(_capped(record, low).encode()) > limit:
        return _minimal(record, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_capped(record, middle).encode()) <= limit:
            low = middle
        else:
            high = middle - 1
    return _capped(record, low)


def _capped(record: dict[str, Any], cap: int) -> str:
    return _dump({key: _cut(value, cap) for key, value in record.items()})


def _cut(value: object, cap: int) -> object:
    if not isinstance(value, str) or len(value) <= cap:
        return value
    return f"{value[:cap]}…[truncated {len(value) - cap} chars]"


def _minimal(record: dict[str, Any], limit: int) -> str:
    """A record whose size is in its many keys, not in one string: what identifies it, and the marker."""
    kept = {key: str(record[key])[:_FIELD_CHARS] for key in _PART_FIELDS if key in record}
    return _dump({**kept, "truncated": True})


def split_record(line: str, limit: int = PIPE_BUF) -> list[str]:
    """``line`` as lines of at most ``limit`` bytes (newline included), each one JSON object.

    A short line is returned as it is. A long one becomes parts carrying the record's timestamp,
    level, event and request id (so filters still see them) and ``"part": {"record", "index",
    "of", "data"}``: joining the ``data`` of a record's parts in ``index`` order gives the line.
    """
    if len(line.encode()) + 1 <= limit:
        return [line]
    try:
        head = json.loads(line)
    except ValueError:
        head = {}
    base = {
        key: head[key][:_FIELD_CHARS]
        for key in _PART_FIELDS
        if isinstance(head, dict) and isinstance(head.get(key), str)
    }
    record_id = f"{os.getpid()}-{next(_record_ids)}"
    budget = limit - 1 - len(_part(base, record_id, 99999, 99999, "").encode())
    if budget < 64:  # identifying fields too long to leave room for data: split without them
        base, budget = {}, limit - 1 - len(_part({}, record_id, 99999, 99999, "").encode())
    chunks: list[str] = []
    rest = line
    while rest:
        take = min(len(rest), budget)
        while len(json.dumps(rest[:take], ensure_ascii=False).encode()) - 2 > budget:
            take = max(1, take * 3 // 4)  # escapes and multi-byte characters: shrink until it fits
        chunks.append(rest[:take])
        rest = rest[take:]
    return [_part(base, record_id, index, len(chunks), chunk) for index, chunk in enumerate(chunks, 1)]


def _part(base: dict[str, str], record_id: str, index: int, of: int, data: str) -> str:
    return _dump({**base, "part": {"record": record_id, "index": index, "of": of, "data": data}})


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` completely.

    One ``write`` normally takes it all; it can take less when a signal arrives mid-way through a
    large write or the descriptor is non-blocking (a parent may have made a shared pipe so), so
    the rest is written after it rather than lost. A pipe write of at most ``PIPE_BUF`` bytes is
    all or nothing even then, which is why parts are no larger.
    """
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[written:]


class LineLogger:
    """A structlog logger whose every method writes the rendered record as one line."""

    def __init__(self, lines: Callable[[str], list[str]], emit: Callable[[bytes], None]) -> None:
        self._lines = lines
        self._emit = emit
        self._lock = threading.Lock()  # a write that had to be finished in pieces stays whole among threads

    def msg(self, message: str) -> None:
        # Parts of a split record are separate writes: each is at most PIPE_BUF, so each stays whole.
        with self._lock:
            for line in self._lines(message):
                self._emit(f"{line}\n".encode())

    log = debug = info = warn = warning = error = err = critical = exception = fatal = failure = msg


class LineLoggerFactory:
    """structlog's ``logger_factory``: lines to ``stream``'s file descriptor, one write a line.

    ``json`` records are capped (:func:`shorten_record`) and, on a pipe or socket, split at
    ``PIPE_BUF`` (:func:`split_record`); console lines are written as they are.
    """

    def __init__(self, stream: IO[str], *, json: bool) -> None:
        try:
            fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            fd = None
        split = json and fd is not None and _is_pipe_or_socket(fd)
        self._lines = _json_lines(split) if json else _as_is
        self._emit = _fd_writer(stream, fd) if fd is not None else _stream_writer(stream)

    def __call__(self, *args: Any) -> LineLogger:
        return LineLogger(self._lines, self._emit)


def _json_lines(split: bool) -> Callable[[str], list[str]]:
    def lines(message: str) -> list[str]:
        short = shorten_record(message)
        return split_record(short) if split else [short]

    return lines


def _as_is(message: str) -> list[str]:
    return [message]


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _fd_writer(stream: IO[str], fd: int) -> Callable[[bytes], None]:
    def emit(data: bytes) -> None:
        stream.flush()  # what others wrote through the stream's buffer goes first, as printed
        write_all(fd, data)

    return emit


def _stream_writer(stream: IO[str]) -> Callable[[bytes], None]:
    def emit(data: bytes) -> None:
        stream.write(data.decode())
        stream.flush()

    return emit
