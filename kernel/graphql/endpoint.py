"""``/graphql`` over HTTP, as the GraphQL-over-HTTP specification describes it.

POST with a JSON body ``{"query", "variables", "operationName", "extensions"}``, or GET with the
same names as URL parameters (queries only: a mutation over GET gets 405). The caller is who the
authentication middleware resolved (session cookie or bearer token); the tenant comes from the
token or ``X-Tenant`` (``tenant.py``).

The response is ``application/graphql-response+json`` when the client accepts it, else
``application/json``. Status codes: a request that is not well-formed (body too large, bad JSON,
no query, wrong media type or method) or refused before GraphQL processing (tenant, token) gets
its 4xx with either media type. A document that does not parse or validate, or exceeds a limit,
gets 400 with ``application/graphql-response+json`` and 200 with ``application/json`` (legacy
clients read the errors from the body). Once execution starts, the status is 200: field errors sit
next to the data.

The hot path for a known document: the schema is found by the tenant's set (a dictionary read),
the validated document by its text (another), its cost from a cached plan; then graphql-core
executes it.
"""

from __future__ import annotations

import inspect
import json
import uuid
from dataclasses import dataclass
from typing import Any, Final, final

import structlog
from graphql import ExecutionResult, OperationType, execute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.execution.is_awaitable import optimized_is_awaitable

from nentang.kernel.data.failures import RETRY_AFTER_SECONDS, UNAVAILABLE, UNAVAILABLE_MESSAGE, OutageLog, is_outage
from nentang.kernel.graphql import errors as codes
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.engine import GraphQLEngine
from nentang.kernel.graphql.errors import RequestError, format_errors, original_of
from nentang.kernel.graphql.limits import anonymous_errors
from nentang.kernel.graphql.media import GRAPHQL_RESPONSE, JSON, negotiate
from nentang.kernel.graphql.refusals import GraphQLRefusals
from nentang.kernel.graphql.served import ServedSchema
from nentang.kernel.http.request_text import MAX_JSON_DEPTH, UnsafeText, check_json
from nentang.kernel.http.state import caller_of
from nentang.kernel.identity.caller import Caller
from nentang.kernel.tenancy.service import TenantInfo

TENANT_HEADER: Final = "x-tenant"


@final
@dataclass(frozen=True, slots=True)
class Params:
    query: Any
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: Any
    is_get: bool


@final
class GraphQLEndpoint:
    def __init__(self, engine: GraphQLEngine, outages: OutageLog | None = None) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.outages = outages or OutageLog()
        self.refusals = GraphQLRefusals(engine.kernel)

    async def __call__(self, request: Request) -> Response:
        media = negotiate(request.headers.get("accept"))
        try:
            params = await self._params(request)
            query = self.engine.persisted.resolve(params.query, params.extensions)
            caller = caller_of(request)
            header = request.headers.get(TENANT_HEADER)
            tenant = self.engine.tenants.cached(caller, header)
            served = self.engine.cached_served(tenant.id) if tenant is not None else None
            if tenant is None or served is None:
                tenant, served = await run_in_threadpool(self._tenant_and_schema, caller, header)
            structlog.contextvars.bind_contextvars(tenant=tenant.code)
            result, operation = await self._run(query, params, caller, tenant, served)
        except RequestError as refused:
            status = refused.status if refused.always or media == GRAPHQL_RESPONSE else 200
            audit = self.refusals.of_request(caller_of(request), refused, request.headers.get(TENANT_HEADER))
            return JSONResponse({"errors": refused.errors}, status, refused.headers, media_type=media, background=audit)
        except Exception as exc:  # a failure outside any resolver: masked, in the GraphQL shape
            if is_outage(exc):
                self.outages.record(exc)
                return _unavailable(media)
            error_id = uuid.uuid4().hex
            structlog.get_logger("nentang.graphql").error("graphql.unexpected_error", error_id=error_id, exc_info=exc)
            message = f"an unexpected error occurred; quote the error id {error_id} to the operators"
            body = {"errors": [codes.error_dict(message, codes.INTERNAL, errorId=error_id)]}
            return JSONResponse(body, 500, media_type=media)
        body: dict[str, Any] = {"data": result.data}
        audit = None
        if result.errors:
            body["errors"] = format_errors(result.errors, codes.FIELD_ERROR)
            originals = [original_of(error) for error in result.errors]
            outage = next((o for o in originals if o is not None and is_outage(o)), None)
            if outage is not None:  # a resolver met the outage: the whole answer says so
                self.outages.record(outage)
                return JSONResponse(body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}, media_type=media)
            if operation == OperationType.MUTATION:
                audit = self.refusals.of_mutation(caller, tenant, result.errors)
        return JSONResponse(body, 200, media_type=media, background=audit)

    def _tenant_and_schema(self, caller: Caller, header: str | None) -> tuple[TenantInfo, ServedSchema]:
        tenant = self.engine.tenants.resolve(caller, header)
        return tenant, self.engine.served_for(tenant.id)

    async def _run(
        self, query: str, params: Params, caller: Caller, tenant: TenantInfo, served: ServedSchema
    ) -> tuple[ExecutionResult, OperationType]:
        engine, settings = self.engine, self.settings
        try:
            prepared = served.documents.get(query) or await run_in_threadpool(served.documents.prepare, query)
        except RequestError as refused:
            if not caller.authenticated and refused.document is not None:
                _refuse_anonymous(format_errors(anonymous_errors(served.schema, refused.document), codes.AUTH_REQUIRED))
            raise
        if not caller.authenticated:
            _refuse_anonymous(prepared.anonymous_problems())
        operation = prepared.operation(params.operation_name)
        if params.is_get and operation.operation != OperationType.QUERY:
            raise RequestError(
                codes.METHOD_NOT_ALLOWED,
                f"a {operation.operation.value} must be sent with POST",
                405,
                always=True,
                headers={"Allow": "POST"},
            )
        plan = prepared.cost_plan(params.operation_name, operation, settings.max_page_size)
        plan.check(params.variables, settings.max_page_size, settings.max_cost)
        context = GraphQLContext(
            kernel=engine.kernel,
            caller=caller,
            tenant=tenant,
            served=served,
            settings=settings,
            reader=engine.reader,
            tenant_changed=engine.tenants.forget,
            reading=operation.operation == OperationType.QUERY,
        )
        result = execute(
            served.schema,
            prepared.document,
            context_value=context,
            variable_values=params.variables,
            operation_name=params.operation_name,
            executor_class=served.executor_class,
            is_awaitable=optimized_is_awaitable,
            hide_suggestions=engine.production,
            operation_extensions=params.extensions if isinstance(params.extensions, dict) else None,
        )
        if inspect.isawaitable(result):
            result = await result
        if result.data is None and result.errors and all(not e.path for e in result.errors):
            # A request error raised by execution itself (variables that do not coerce): no data entry.
            raise RequestError.of(format_errors(result.errors, codes.BAD_VARIABLES))
        return result, operation.operation

    # -- reading the request ----------------------------------------------------------------------

    async def _params(self, request: Request) -> Params:
        limit = self.settings.max_body_bytes
        if request.method == "GET":
            if len(request.url.query) > limit:
                raise _too_large(limit)
            args = request.query_params
            params = Params(
                query=args.get("query"),
                variables=_json_object(args.get("variables"), "variables"),
                operation_name=_operation_name(args.get("operationName")),
                extensions=_json_object(args.get("extensions"), "extensions"),
                is_get=True,
            )
            _check_text(params)
            return params
        if request.method != "POST":
            raise RequestError(
                codes.METHOD_NOT_ALLOWED,
                f"use POST (or GET for queries), not {request.method}",
                405,
                always=True,
                headers={"Allow": "GET, POST"},
            )
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != JSON:
            raise RequestError(
                codes.UNSUPPORTED_MEDIA_TYPE,
                f"send the request as {JSON} (not {media_type or 'no content type'})",
                415,
                always=True,
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(codes.MALFORMED_JSON, f"the body is not valid JSON: {exc}", 400, always=True) from None
        except RecursionError:
            raise _nested_too_deep("the body") from None
        if not isinstance(body, dict):
            raise RequestError(codes.BAD_REQUEST, "the body must be a JSON object with a 'query'", 400, always=True)
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError(codes.BAD_REQUEST, "'variables' must be a JSON object", 400, always=True)
        params = Params(
            query=body.get("query"),
            variables=variables,
            operation_name=_operation_name(body.get("operationName")),
            extensions=body.get("extensions"),
            is_get=False,
        )
        _check_text(params)
        return params


def _refuse_anonymous(problems: list[dict[str, Any]]) -> None:
    """401 with ``problems``, if there are any: what an anonymous caller asked for needs a caller."""
    if problems:
        raise RequestError.of(problems, 401, headers={"WWW-Authenticate": "Bearer"})


def _unavailable(media: str) -> JSONResponse:
    body = {"errors": [codes.error_dict(UNAVAILABLE_MESSAGE, UNAVAILABLE)]}
    return JSONResponse(body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}, media_type=media)


def _too_large(limit: int) -> RequestError:
    return RequestError(
        codes.BODY_TOO_LARGE,
        f"the request is larger than {limit} bytes; send a smaller document (or a persisted query's hash)",
        413,
        always=True,
    )


def _check_text(params: Params) -> None:
    """Refuse text no store could keep, and JSON too deep to walk, before anything reads it."""
    try:
        check_json(params.query, "query")
        check_json(params.variables, "variables")
        check_json(params.operation_name, "operationName")
        check_json(params.extensions, "extensions")
    except UnsafeText as refused:
        raise RequestError(codes.INVALID_TEXT, str(refused), 400, always=True, where=refused.where) from None


def _nested_too_deep(what: str) -> RequestError:
    return RequestError(
        codes.INVALID_TEXT, f"{what} nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects", 400, always=True
    )


def _json_object(raw: str | None, name: str) -> Any:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise RequestError(codes.MALFORMED_JSON, f"'{name}' is not valid JSON: {exc}", 400, always=True) from None
    except RecursionError:
        raise _nested_too_deep(f"'{name}'") from None
    if value is not None and not isinstance(value, dict):
        raise RequestError(codes.BAD_REQUEST, f"'{name}' must be a JSON object", 400, always=True)
    return value


def _operation_name(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RequestError(codes.BAD_REQUEST, "'operationName' must be a string", 400, always=True)
    return value
