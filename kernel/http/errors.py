"""Errors as JSON: a NentangError keeps its code and message; anything else is masked to an id.

One code, two envelopes: on ``/graphql`` every error — a bad token, a suspended tenant, a missing
CSRF token, an outage — is GraphQL's ``{"errors": [{"message", "extensions": {"code"}}]}`` in the
media type the client accepts, so a GraphQL client never loses the code; every other route answers
``{"error": {"code", "message"}}``. :func:`error_response` picks the envelope from the path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Scope

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
from nentang.kernel.graphql.errors import error_dict
from nentang.kernel.graphql.media import GRAPHQL_PATH, negotiate
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


def error_response(
    scope: Scope, code: str, message: str, status: int, headers: dict[str, str] | None = None, **extra: str
) -> JSONResponse:
    """The error in the envelope the request's path speaks (see the module docstring)."""
    if scope.get("path") == GRAPHQL_PATH:
        media = negotiate(Headers(scope=scope).get("accept"))
        body = {"errors": [error_dict(message, code, **extra)]}
        return JSONResponse(body, status, headers, media_type=media)
    return JSONResponse(error_body(code, message, **extra), status, headers)


async def nentang_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NentangError)  # registered for NentangError only; not an input check
    return error_response(request.scope, exc.code, exc.message, status_for(exc))


def database_error_handler(outages: OutageLog) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of database errors that reach a route: an outage is 503 ``unavailable`` (logged
    once per outage), a lost unique-key race 409 ``conflict``, anything else 500 masked to an id.
    (Registered for SQLAlchemy's errors, not ``Exception``: Starlette re-raises what reaches its
    last-resort handler, and the server would log a traceback per request.)"""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            outages.record(exc)
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return error_response(request.scope, UNAVAILABLE, UNAVAILABLE_MESSAGE, 503, retry)
        if is_lost_race(exc):
            return error_response(request.scope, CONFLICT, CONFLICT_MESSAGE, 409)
        return await unexpected_error(request, exc)

    return handle


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    structlog.get_logger("nentang.http").error("http.unexpected_error", error_id=error_id, exc_info=exc)
    message = "an unexpected error occurred; quote the error id to the operators"
    return error_response(request.scope, "internal", message, 500, error_id=error_id)
