"""GraphQL errors with machine codes, and how every error leaves the server.

Each error in a response carries ``extensions.code``. The codes of the GraphQL layer itself are
below; an error raised by a resolver keeps the code of its :class:`~nentang.sdk.errors.NentangError`
(``permission.denied``, ``tenant.code_taken``, ...); anything else is *masked*: the caller sees
``internal`` and an ``errorId``, and the log line ``graphql.unexpected_error`` with the same id holds
the exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Final, final

import structlog
from graphql import GraphQLError

from nentang.kernel.data.failures import (
    CONFLICT,
    CONFLICT_MESSAGE,
    UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    is_lost_race,
    is_outage,
)
from nentang.sdk.errors import NentangError

# -- request errors (no GraphQL processing took place) -------------------------------------------
BAD_REQUEST: Final = "graphql.bad_request"
MALFORMED_JSON: Final = "graphql.malformed_json"
BODY_TOO_LARGE: Final = "graphql.body_too_large"
UNSUPPORTED_MEDIA_TYPE: Final = "graphql.unsupported_media_type"
METHOD_NOT_ALLOWED: Final = "graphql.method_not_allowed"
TENANT_REQUIRED: Final = "tenant.required"
TENANT_MISMATCH: Final = "tenant.mismatch"
TENANT_FORBIDDEN: Final = "tenant.forbidden"
# -- document errors -------------------------------------------------------------------------------
SYNTAX_ERROR: Final = "graphql.syntax_error"
TOKEN_LIMIT: Final = "graphql.token_limit"
VALIDATION_FAILED: Final = "graphql.validation_failed"
DEPTH_LIMIT: Final = "graphql.depth_limit"
ALIAS_LIMIT: Final = "graphql.alias_limit"
COST_LIMIT: Final = "graphql.cost_limit"
PAGE_SIZE: Final = "graphql.page_size"
AUTH_REQUIRED: Final = "auth.required"
INTROSPECTION_DISABLED: Final = "graphql.introspection_disabled"
OPERATION_NOT_FOUND: Final = "graphql.operation_not_found"
BAD_VARIABLES: Final = "graphql.bad_variables"
#: Text no store could keep: a NUL character, a lone surrogate, JSON nested too deep.
INVALID_TEXT: Final = "graphql.invalid_text"
PERSISTED_QUERY_NOT_FOUND: Final = "graphql.persisted_query_not_found"
PERSISTED_QUERY_MISMATCH: Final = "graphql.persisted_query_mismatch"
PERSISTED_QUERY_REQUIRED: Final = "graphql.persisted_query_required"
# -- execution -------------------------------------------------------------------------------------
FIELD_ERROR: Final = "graphql.field_error"
INTERNAL: Final = "internal"

_log = structlog.get_logger("nentang.graphql")


@final
class RequestError(Exception):
    """A request refused before execution: one GraphQL error and the HTTP status it gets.

    ``status`` applies to ``application/graphql-response+json``; with ``application/json`` the
    status is 200 unless ``always`` (a request that is not well-formed, or refused before GraphQL
    processing: body, media type, method, tenant).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        always: bool = False,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.errors = [error_dict(message, code, **extra)]
        self.status = status
        self.always = always
        self.headers = headers or {}
        #: The parsed document a validation refusal is about (``None`` for other refusals): an
        #: anonymous caller's refusal is decided on it first (see ``anonymous_errors``).
        self.document: Any = None

    @classmethod
    def of(cls, errors: list[dict[str, Any]], status: int = 400, headers: dict[str, str] | None = None) -> RequestError:
        refused = cls(INTERNAL, "", status, headers=headers)
        refused.errors = errors
        return refused


def error_dict(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def coded(error: GraphQLError, code: str) -> GraphQLError:
    """``error`` with ``extensions.code`` set (kept when a rule already set one)."""
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


def rule_error(message: str, code: str, nodes: Any = None, **extra: Any) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code, **extra})


def format_errors(errors: Iterable[GraphQLError], default_code: str) -> list[dict[str, Any]]:
    return [format_error(error, default_code) for error in errors]


def original_of(error: GraphQLError) -> BaseException | None:
    """The exception a resolver raised, through graphql-core's re-wrapping (``None`` for an error
    of GraphQL itself)."""
    original = error.original_error
    if isinstance(original, GraphQLError):  # re-wrapped by graphql-core
        original = original.original_error or original
    return original


def format_error(error: GraphQLError, default_code: str = FIELD_ERROR) -> dict[str, Any]:
    """One error as the response shows it: message, locations, path, extensions with a code."""
    original = original_of(error)
    if isinstance(original, NentangError):
        out: dict[str, Any] = {"message": original.message}
        extensions: dict[str, Any] = {"code": original.code}
    elif original is not None and is_outage(original):
        out, extensions = {"message": UNAVAILABLE_MESSAGE}, {"code": UNAVAILABLE}  # logged once by the endpoint
    elif original is not None and is_lost_race(original):
        out, extensions = {"message": CONFLICT_MESSAGE}, {"code": CONFLICT, "retry": True}
    elif original is not None and not isinstance(original, GraphQLError):
        error_id = uuid.uuid4().hex
        _log.error(
            "graphql.unexpected_error",
            error_id=error_id,
            path=list(error.path) if error.path else None,
            exc_info=original,
        )
        out = {"message": f"an unexpected error occurred; quote the error id {error_id} to the operators"}
        extensions = {"code": INTERNAL, "errorId": error_id}
    else:
        out = {"message": error.message}
        extensions = {"code": default_code, **(error.extensions or {})}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    out["extensions"] = extensions
    return out
