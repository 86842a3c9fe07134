"""hookpayload (hostile sample): its hooks read the process's own secrets under /proc and write outside."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nentang.sdk import Event, GraphQLContribution, TenantContext, hookimpl


@hookimpl
def nentang_event_received(ctx: TenantContext, event: Event) -> None:
    with open("/proc/self/environ", "rb") as environment:
        environment.read()


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution | None:
    descriptor = os.open("/proc/self/maps", os.O_RDONLY)  # where the secrets sit in memory
    os.read(descriptor, 4096)
    os.close(descriptor)
    return None


@hookimpl
def nentang_plugin_disable(ctx: TenantContext) -> None:
    with contextlib.suppress(OSError):  # drops a note for whoever reads /var/tmp
        Path("/var/tmp/nentang-hookpayload.txt").write_bytes(ctx.tenant.code.encode())
