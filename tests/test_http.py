"""HTTP: probes, the tenant prefix, errors as JSON, request ids and structured logs, on the real app."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from nentang.kernel.http.app import create_app
from nentang.kernel.http.middleware.request_context import _request_id
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import NentangError, TenantCodeTaken, TenantRuleViolated, ValidationFailed
from tests.conftest import ACTOR, TEST_SECRETS_KEY, Tree

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")

# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Put the structlog configuration back after a test that configured it."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)
        structlog.contextvars.clear_contextvars()


def json_logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Configure logging as the server entry point does (JSON lines on stderr) and return a reader
    of the parsed lines. Called in the test body: pytest swaps the captured stream after set-up."""
    configure_logging(json=True, level="INFO")
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().err.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read


def add_route(app: Starlette, route: Route, *, under_tenant: bool = False) -> None:
    """Add a route to this app only (the kernel's route lists are copied per app)."""
    if not under_tenant:
        app.router.routes.append(route)
        return
    (mount,) = [r for r in app.router.routes if isinstance(r, Mount) and r.path == "/t/{tenant}"]
    mount.app.app.routes.append(route)  # type: ignore[attr-defined]  # TenantBindingMiddleware → Router


async def _boom(_request: Request) -> JSONResponse:
    raise RuntimeError("secret internals: password=hunter2")


# -- probes ------------------------------------------------------------------------------------


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": True, "migrations": True, "plugins": True}
    assert "detail" not in body


def test_readyz_is_503_with_a_reason_on_a_never_migrated_database(tmp_path: Path) -> None:
    kernel = create_kernel(Settings(database_url=f"sqlite:///{tmp_path}/empty.db", secrets_key=TEST_SECRETS_KEY))
    try:
        with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
            response = http.get("/readyz")
            assert http.get("/healthz").status_code == 200  # the process itself is fine
    finally:
        kernel.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": True, "migrations": False, "plugins": True}
    assert re.fullmatch(r"migrations not at head: pending \[.*'k\d{4}'.*\]", body["detail"]), body["detail"]


def test_readyz_is_503_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    # A SQLite "file" that is a directory: the engine builds, every connection fails.
    kernel = create_kernel(Settings(database_url=f"sqlite:///{tmp_path}", secrets_key=TEST_SECRETS_KEY))
    try:
        with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
            response = http.get("/readyz")
    finally:
        kernel.close()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": False, "migrations": False, "plugins": True}
    assert body["detail"].startswith("database unreachable: ")


# -- the tenant prefix -------------------------------------------------------------------------


def test_tenant_home_returns_the_tenant_and_its_ancestors(client: TestClient, tree: Tree) -> None:
    response = client.get("/t/00001/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ancestors"] == ["TW", "01"]
    tenant = body["tenant"]
    assert {k: v for k, v in tenant.items() if k != "created_at"} == {
        "code": "00001",
        "name": "Phường Một",
        "kind": "commune",
        "division_type": None,
        "status": "active",
        "depth": 2,
    }
    created = datetime.fromisoformat(tenant["created_at"])
    assert created.utcoffset() == timedelta(0)  # an explicit UTC offset on SQLite as on PostgreSQL
    assert created == tree.c1.created_at

    root = client.get("/t/TW/").json()
    assert (root["tenant"]["kind"], root["ancestors"]) == ("central", [])


def test_unknown_tenant_is_a_404_json_error(client: TestClient, tree: Tree) -> None:
    response = client.get("/t/ZZ/")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "tenant.not_found"
    assert "'ZZ'" in error["message"]
    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_suspended_tenant_and_everything_below_it_is_refused(kernel: Kernel, client: TestClient, tree: Tree) -> None:
    kernel.tenants.suspend("00001", actor=ACTOR)
    response = client.get("/t/00001/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant.unavailable"
    assert "'00001'" in response.json()["error"]["message"]
    assert client.get("/t/00002/").status_code == 200  # its sibling serves

    kernel.tenants.suspend("02", actor=ACTOR)
    for code in ("02", "00003"):  # the province, and a commune that is itself still active
        response = client.get(f"/t/{code}/")
        assert response.status_code == 403, code
        assert response.json()["error"]["code"] == "tenant.unavailable"
    assert client.get("/t/01/").status_code == 200

    kernel.tenants.reactivate("02", actor=ACTOR)
    kernel.tenants.reactivate("00001", actor=ACTOR)
    assert [client.get(f"/t/{c}/").status_code for c in ("02", "00003", "00001")] == [200, 200, 200]


def test_a_new_tenant_serves_on_the_very_next_request(kernel: Kernel, client: TestClient, tree: Tree) -> None:
    assert client.get("/t/UBND-X1/").status_code == 404
    kernel.tenants.create(code="UBND-X1", name="Ủy ban nhân dân", kind="unit", parent_code="00003", actor=ACTOR)
    response = client.get("/t/UBND-X1/")
    assert response.status_code == 200, response.text
    assert response.json()["ancestors"] == ["TW", "02", "00003"]
    assert response.json()["tenant"]["depth"] == 3


def test_moves_and_renames_show_on_the_next_request(kernel: Kernel, client: TestClient, tree: Tree) -> None:
    assert client.get("/t/00001/").json()["ancestors"] == ["TW", "01"]
    kernel.tenants.move("00001", "02", actor=ACTOR)
    kernel.tenants.rename("00001", "Phường Mới", actor=ACTOR)
    body = client.get("/t/00001/").json()
    assert body["ancestors"] == ["TW", "02"]
    assert body["tenant"]["name"] == "Phường Mới"


# -- request ids -------------------------------------------------------------------------------


def test_a_valid_client_request_id_is_echoed(client: TestClient, subtests: pytest.Subtests) -> None:
    for supplied in ("abcd1234", "req-2026.11.28_0001", "A" * 64):
        with subtests.test(supplied=supplied):
            response = client.get("/healthz", headers={"X-Request-ID": supplied})
            assert response.headers["x-request-id"] == supplied


def test_an_invalid_client_request_id_is_replaced(client: TestClient, subtests: pytest.Subtests) -> None:
    for supplied in ("short", "abc 1234567", "A" * 65, "abcd/1234", "abcd1234;drop", "ngày-1234"):
        with subtests.test(supplied=supplied):
            response = client.get("/healthz", headers={"X-Request-ID": supplied.encode("utf-8")})  # type: ignore[dict-item]
            echoed = response.headers["x-request-id"]
            assert echoed != supplied
            assert GENERATED_ID.match(echoed)


def test_a_request_id_with_a_trailing_newline_is_replaced() -> None:
    # An HTTP client cannot send this; check the rule itself on a raw ASGI scope.
    scope = {"type": "http", "headers": [(b"x-request-id", b"abcdefgh1234\n")]}
    replaced = _request_id(scope)
    assert GENERATED_ID.match(replaced)
    assert _request_id({"type": "http", "headers": [(b"x-request-id", b"abcdefgh1234")]}) == "abcdefgh1234"


def test_generated_request_ids_differ(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# -- logs --------------------------------------------------------------------------------------


def test_request_log_lines_carry_request_id_and_tenant(
    client: TestClient, tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = json_logs(capsys)
    client.get("/t/00001/", headers={"X-Request-ID": "trace-0001-abcd"})
    client.get("/healthz", headers={"X-Request-ID": "trace-0002-abcd"})
    client.get("/t/ZZ/", headers={"X-Request-ID": "trace-0003-abcd"})
    lines = [line for line in logs() if line.get("event") == "http.request"]
    assert [line["request_id"] for line in lines] == ["trace-0001-abcd", "trace-0002-abcd", "trace-0003-abcd"]
    tenant_line, health_line, unknown_line = lines
    assert tenant_line["tenant"] == "00001"
    assert (tenant_line["method"], tenant_line["path"], tenant_line["status"]) == ("GET", "/t/00001/", 200)
    assert tenant_line["level"] == "info"
    assert datetime.fromisoformat(tenant_line["timestamp"]).utcoffset() == timedelta(0)
    assert 0 <= tenant_line["duration_ms"] < 60_000
    # Nothing leaks from one request's context into the next.
    assert "tenant" not in health_line
    assert (unknown_line["status"], "tenant" in unknown_line) == (404, False)


def test_an_unexpected_error_is_masked_and_logged_with_the_request(
    kernel: Kernel, tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = json_logs(capsys)
    app = create_app(kernel)
    add_route(app, Route("/boom", _boom), under_tenant=True)
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/t/00002/boom", headers={"X-Request-ID": "trace-boom-0001"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal"
    assert GENERATED_ID.match(error["error_id"])
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "trace-boom-0001"

    lines = logs()
    (logged,) = [line for line in lines if line.get("event") == "http.unexpected_error"]
    assert logged["error_id"] == error["error_id"]
    assert logged["level"] == "error"
    assert (logged["request_id"], logged["tenant"]) == ("trace-boom-0001", "00002")
    assert "RuntimeError" in logged["exception"]  # the traceback goes to the operators' log only
    (request_line,) = [line for line in lines if line.get("event") == "http.request"]
    assert (request_line["status"], request_line["request_id"]) == (500, "trace-boom-0001")


def test_an_unexpected_error_outside_a_tenant_is_masked_too(kernel: Kernel) -> None:
    app = create_app(kernel)
    add_route(app, Route("/boom", _boom))
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/boom")
        assert http.get("/healthz").status_code == 200  # the app keeps serving
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert GENERATED_ID.match(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationFailed("field x is missing"), 400),
        (TenantRuleViolated("would make a cycle"), 400),
        (TenantCodeTaken("code 01 is taken"), 409),
        (NentangError("odd", code="area.odd"), 500),
    ],
)
def test_a_nentang_error_keeps_its_code_and_message(kernel: Kernel, error: NentangError, status: int) -> None:
    async def fail(_request: Request) -> JSONResponse:
        raise error

    app = create_app(kernel)
    add_route(app, Route("/fail", fail))
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/fail")
    assert response.status_code == status
    assert response.json() == {"error": {"code": error.code, "message": error.message}}
