"""JSON log records from several worker processes never share a line (#13 item 8).

Real processes, as ``nentang serve --workers N`` forks them onto one stderr: each writes many
long records concurrently to one pipe, or one file; every line read back must be one JSON object
and every record must come back whole (a split record is joined from its parts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from nentang.kernel.observability.log_writer import MAX_RECORD_BYTES, PIPE_BUF, shorten_record, split_record

WORKERS = 4
RECORDS = 150

# Record sizes straddle PIPE_BUF; every tenth is a 20 KB "traceback", the last one is over the cap.
_WORKER = f"""
import sys
import structlog
from nentang.kernel.observability.logging import configure_logging
configure_logging(json=True)
log = structlog.get_logger()
worker = int(sys.argv[1])
for n in range({RECORDS}):
    size = 20_000 if n % 10 == 0 else 300 + 97 * n
    log.info("worker.record", worker=worker, n=n, payload=f"w{{worker}}n{{n}}:" + "ă" * size)
log.error("worker.huge", worker=worker, exception="x" * {MAX_RECORD_BYTES * 2})
"""


def _run_workers(stderr: IO[bytes] | int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(worker)], stderr=stderr, stdout=subprocess.DEVNULL)
        for worker in range(WORKERS)
    ]


def _records(raw: bytes) -> list[dict[str, Any]]:
    """Every line parsed as JSON (the assertion of this file), split records joined again."""
    lines = raw.decode().splitlines()
    assert lines
    parsed = [json.loads(line) for line in lines]  # raises on any line that mixes two records
    whole = [record for record in parsed if "part" not in record]
    parts: dict[str, list[dict[str, Any]]] = {}
    for record in parsed:
        if "part" in record:
            parts.setdefault(record["part"]["record"], []).append(record["part"])
    for pieces in parts.values():
        pieces.sort(key=lambda piece: piece["index"])
        assert [piece["index"] for piece in pieces] == list(range(1, pieces[0]["of"] + 1))
        whole.append(json.loads("".join(piece["data"] for piece in pieces)))
    return whole


def _check_complete(records: list[dict[str, Any]]) -> None:
    seen = {(r["worker"], r["n"]) for r in records if r["event"] == "worker.record"}
    assert seen == {(w, n) for w in range(WORKERS) for n in range(RECORDS)}
    for record in records:
        if record["event"] == "worker.record":
            n = record["n"]
            expected = 20_000 if n % 10 == 0 else 300 + 97 * n
            assert record["payload"] == f"w{record['worker']}n{n}:" + "ă" * expected
    huge = [r for r in records if r["event"] == "worker.huge"]
    assert len(huge) == WORKERS
    for record in huge:
        assert record["truncated"] is True and "…[truncated " in record["exception"]
        assert len(json.dumps(record, ensure_ascii=False).encode()) <= MAX_RECORD_BYTES


def test_workers_sharing_a_pipe_never_mix_records() -> None:
    read_end, write_end = os.pipe()
    workers = _run_workers(write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    assert all(worker.wait(timeout=120) == 0 for worker in workers)
    for line in raw.splitlines():
        assert len(line) + 1 <= PIPE_BUF  # what a pipe keeps whole: longer records came as parts
    _check_complete(_records(raw))


def test_workers_appending_to_one_file_never_mix_records(tmp_path: Path) -> None:
    log_file = tmp_path / "workers.log"
    with log_file.open("ab") as shared:  # O_APPEND, as `2>>file` opens it
        workers = _run_workers(shared)
        assert all(worker.wait(timeout=120) == 0 for worker in workers)
    raw = log_file.read_bytes()
    records = [json.loads(line) for line in raw.decode().splitlines()]
    assert not any("part" in record for record in records)  # a file keeps long records whole
    _check_complete(records)


def test_a_line_that_is_not_json_is_cut_with_a_marker() -> None:
    line = "x" * (MAX_RECORD_BYTES * 2)
    short = shorten_record(line)
    assert len(short.encode()) <= MAX_RECORD_BYTES and short.endswith(f"…[truncated to {MAX_RECORD_BYTES} bytes]")


def test_a_record_with_many_long_keys_keeps_what_identifies_it() -> None:
    record = {"event": "e", "level": "info", "request_id": "r1"} | {f"k{i}": "v" * 50 for i in range(5000)}
    short = json.loads(shorten_record(json.dumps(record)))
    assert short["event"] == "e" and short["request_id"] == "r1" and short["truncated"] is True


@pytest.mark.parametrize("text", ['"\\u0000' * 3000, "ă" * 5000, "\x01" * 4000])
def test_split_parts_fit_a_pipe_write_even_with_escapes(text: str) -> None:
    line = json.dumps({"event": "e", "payload": text}, ensure_ascii=False)
    parts = split_record(line)
    assert len(parts) > 1
    assert all(len(part.encode()) + 1 <= PIPE_BUF for part in parts)
    assert "".join(json.loads(part)["part"]["data"] for part in parts) == line
    assert all(json.loads(part)["event"] == "e" for part in parts)


def test_parts_of_a_record_with_a_long_event_name_still_fit_a_pipe_write() -> None:
    line = json.dumps({"event": "é" * 3000, "request_id": "r" * 900, "payload": "x" * 9000}, ensure_ascii=False)
    parts = split_record(line)
    assert all(len(part.encode()) + 1 <= PIPE_BUF for part in parts)
    assert "".join(json.loads(part)["part"]["data"] for part in parts) == line
