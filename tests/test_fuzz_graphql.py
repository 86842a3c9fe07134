"""bench/fuzz_graphql.py, bounded: schemathesis finds no 5xx on /graphql, anonymous or as the demo
admin (#13 acceptance), and a 5xx, when there is one, fails the run and is printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, POSTGRES_URL

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "fuzz_graphql.py"
LAST_LINE = re.compile(
    r"^fuzz_graphql: fields=(\d+) requests=(\d+) anonymous=(\d+) authenticated=(\d+) "
    r"status_4xx=(\d+) status_5xx=(\d+) seconds=\d+\.\d$"
)
#: Makes every answer to a query naming ``me`` a 500, to show that the run notices one.
BROKEN_ME = """
import sys
sys.path.insert(0, sys.argv[1])
import fuzz_graphql
real = fuzz_graphql.create_app
def broken_app(kernel):
    app = real(kernel)
    async def wrapper(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if b"me" in body and b"__schema" not in body:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            return await send({"type": "http.response.body", "body": b"boom"})
        sent = False
        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await app(scope, replay, send)
    return wrapper
fuzz_graphql.create_app = broken_app
sys.exit(fuzz_graphql.main(sys.argv[2:]))
"""


def run(*args: str, program: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    database = ["--postgres-url", POSTGRES_URL] if ON_POSTGRES else []
    command = program or [sys.executable, str(SCRIPT)]
    return subprocess.run([*command, *args, *database], capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.fuzz
def test_a_bounded_run_finds_no_5xx_anonymous_or_authenticated() -> None:
    done = run("--examples", "3")
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    found = LAST_LINE.match(done.stdout.strip().splitlines()[-1])
    assert found is not None, done.stdout
    fields, requests, anonymous, authenticated, _, status_5xx = (int(v) for v in found.groups())
    assert fields >= 30  # every root field of the kernel and the feedback plugin, queries and mutations
    assert anonymous == authenticated and requests == anonymous + authenticated >= 2 * fields
    assert status_5xx == 0


@pytest.mark.fuzz
def test_a_5xx_fails_the_run_and_is_printed() -> None:
    done = run("--examples", "1", program=[sys.executable, "-c", BROKEN_ME, str(SCRIPT.parent)])
    assert done.returncode == 1, (done.stdout[-3000:], done.stderr[-3000:])
    assert "5xx: anonymous 500: " in done.stdout and "5xx: authenticated 500: " in done.stdout
    found = LAST_LINE.match(done.stdout.strip().splitlines()[-1])
    assert found is not None and int(found.group(6)) > 0


def test_a_bad_bound_is_refused() -> None:
    done = run("--examples", "0")
    assert done.returncode == 2 and "--examples must be from 1 to 10000, not 0" in done.stderr
