"""Errors as JSON: a NentangError keeps its code and message; anything else is masked to an id."""

from __future__ import annotations

import uuid

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

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


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    structlog.get_logger("nentang.http").error("http.unexpected_error", error_id=error_id, exc_info=exc)
    return JSONResponse(
        error_body("internal", "an unexpected error occurred; quote the error id to the operators", error_id=error_id),
        status_code=500,
    )
