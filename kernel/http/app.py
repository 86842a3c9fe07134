"""The Starlette application, built from a kernel; nothing is global."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, Router

from nentang.kernel.console.app import console_mounts, is_console_path
from nentang.kernel.data.failures import OutageLog
from nentang.kernel.graphql.endpoint import GraphQLEndpoint
from nentang.kernel.graphql.engine import GraphQLEngine
from nentang.kernel.http import auth_routes, oidc_routes, tenant_routes
from nentang.kernel.http.errors import database_error_handler, nentang_error, unexpected_error
from nentang.kernel.http.health import healthz, readyz
from nentang.kernel.http.middleware.authentication import AuthenticationMiddleware
from nentang.kernel.http.middleware.request_context import RequestContextMiddleware
from nentang.kernel.http.middleware.tenant_binding import TenantBindingMiddleware
from nentang.kernel.http.middleware.worker_id import WorkerIdMiddleware
from nentang.kernel.runtime import Kernel
from nentang.sdk.errors import NentangError


def create_app(kernel: Kernel, *, close_kernel_on_shutdown: bool = False) -> Starlette:
    """The ASGI app for ``kernel``. With ``close_kernel_on_shutdown`` the app owns the kernel
    (the server entry point); tests keep ownership and close it themselves."""
    outages = OutageLog()  # one per app: an outage is logged once, whichever route meets it

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(kernel.start_or_report)
        yield
        graphql.close()
        if close_kernel_on_shutdown:
            kernel.close()

    graphql = GraphQLEngine(kernel)

    tenant_app = TenantBindingMiddleware(Router(routes=tenant_routes.routes), kernel)
    app = Starlette(
        routes=[
            # first: integrators' traffic is nearly all here, and routes are matched in order
            Route(
                "/graphql",
                GraphQLEndpoint(graphql, outages).__call__,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *auth_routes.routes,
            *oidc_routes.routes,
            *console_mounts(kernel),  # /console/ and /t/{code}/console/: before the tenant mount
            Mount("/t/{tenant}", app=tenant_app),
        ],
        middleware=[
            Middleware(WorkerIdMiddleware),  # diagnostic X-NenTang-Worker header, on every response
            Middleware(RequestContextMiddleware),
            Middleware(AuthenticationMiddleware, kernel=kernel, csrf_checked_elsewhere=is_console_path),
        ],
        exception_handlers={
            NentangError: nentang_error,
            SQLAlchemyError: database_error_handler(outages),
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.kernel = kernel
    app.state.oidc_start_limit = oidc_routes.start_limit(kernel)
    app.state.graphql = graphql
    return app
