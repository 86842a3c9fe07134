"""The hook implementations of hello (the module the ``nentang.plugins`` entry point names).

The kernel calls these hooks only for the tenant being enabled or disabled: the plugin never asks
"am I enabled here?". Each hook takes the parameters it uses — any subset of the hookspec's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nentang.sdk import TenantContext, hookimpl
from nentang_hello.greeting import check_settings, greeting_for, sends_sms


@hookimpl
def nentang_plugin_enable(ctx: TenantContext, settings: Mapping[str, Any]) -> None:
    """Check the tenant's settings and record the enable in the tenant's audit log.

    Runs inside the enabling transaction: raising here (``check_settings`` does) rolls the whole
    enable back, and the administrator sees the message.
    """
    check_settings(settings)
    # the audit entry names what was configured — never the secret itself
    ctx.audit("enabled", ctx.tenant.code, {"greeting": greeting_for(ctx), "sms": sends_sms(ctx)})


@hookimpl
def nentang_plugin_disable(ctx: TenantContext) -> None:
    """Record the disable. Nothing else to tidy: hello keeps no data, and its settings stay stored
    for a later enable."""
    ctx.audit("disabled", ctx.tenant.code)
