"""Probes: ``/healthz`` says the process is up; ``/readyz`` that it can serve (database, migrations).

``/readyz`` also names the plugins this worker runs, with the version it imported
(``"plugins": {"forms": "1.2.0"}``): during a rolling upgrade it tells which workers run the new
release. Plugin names and versions only — no tenants, no settings.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from nentang.kernel.http.state import kernel_of


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    kernel = kernel_of(request)
    readiness = await run_in_threadpool(kernel.readiness)
    body = {
        "status": "ready" if readiness.ready else "not ready",
        "checks": {"database": readiness.database, "migrations": readiness.migrations, "plugins": readiness.plugins},
        "plugins": kernel.plugins.versions(),
    }
    if readiness.detail:
        body["detail"] = readiness.detail
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
