"""reacharound (hostile sample): the classes the old deny-list let through (issue 12).

The payloads sit in a function no hook calls, as the outside review's sat behind a GraphQL field,
so only the static stage can see them.
"""

from __future__ import annotations

import pkgutil

from sqlalchemy import column, func, select, table

from nentang.sdk import TenantContext, hookimpl


def payload(ctx: TenantContext) -> object:
    authz = ctx._authz
    kernel = pkgutil.resolve_name("nentang.kernel.runtime:Kernel")
    users = table("kernel_user", column("password_hash"))
    ctx.session.execute(select(func.set_config("nentang.tenant_id", "1", False)))
    builtins = print.__self__
    return authz, kernel, ctx.session.execute(select(users)).all(), builtins


@hookimpl
def nentang_plugin_disable(ctx: TenantContext) -> None:
    ctx.audit("disabled", ctx.tenant.code)
