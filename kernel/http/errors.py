"""Errors as JSON: a NentangError keeps its code and message; anything else is masked to an id."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from nentang.kernel.data.failures import (
    CONFLICT,
    CONFLICT_MESSAGE,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    OutageLog,
    is_lost_race,
    is_outage,
)
from nentang.sdk.errors import (
    Conflict,
    NentangError,
    NotFound,
    PermissionDenied,
    TenantUnavailable,
    ValidationFailed,
)

_STATUS: list[tuple[type[NentangError], int]] = [
    (ValidationFailed, 400),
    (NotFound, 404),
    (Conflict, 409),
    (PermissionDenied, 403),
    (TenantUnavailable, 403),
]


def status_for(error: NentangError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_body(code: str, message: str, **extra: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


async def nentang_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NentangError)  # registered for NentangError only; not an input check
    return JSONResponse(error_body(exc.code, exc.message), status_code=status_for(exc))


def database_error_handler(outages: OutageLog) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of database errors that reach a route: an outage is 503 ``unavailable`` (logged
    once per outage), a lost unique-key race 409 ``conflict``, anything else 500 masked to an id.
    (Registered for SQLAlchemy's errors, not ``Exception``: Starlette re-raises what reaches its
    last-resort handler, and the server would log a traceback per request.)"""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            outages.record(exc)
            return JSONResponse(
                error_body(UNAVAILABLE, UNAVAILABLE_MESSAGE),
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if is_lost_race(exc):
            return JSONResponse(error_body(CONFLICT, CONFLICT_MESSAGE), status_code=409)
        return await unexpected_error(request, exc)

    return handle


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    structlog.get_logger("nentang.http").error("http.unexpected_error", error_id=error_id, exc_info=exc)
    return JSONResponse(
        error_body("internal", "an unexpected error occurred; quote the error id to the operators", error_id=error_id),
        status_code=500,
    )
