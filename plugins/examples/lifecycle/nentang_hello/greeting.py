"""What the plugin does with its settings — plain functions over the tenant-bound context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from nentang.sdk import TenantContext, ValidationFailed

#: The greeting when a tenant's settings leave it out (the schema's default, repeated for code).
DEFAULT_GREETING: Final = "Xin chào"


def check_settings(settings: Mapping[str, Any]) -> None:
    """Rules the JSON Schema cannot say: an SMS sender name needs the gateway's key.

    :raises ValidationFailed: with a message for the administrator; the enable is rolled back.
    """
    if settings.get("sms_sender") and not settings.get("sms_api_key"):
        raise ValidationFailed(
            "hello: 'sms_sender' is set but 'sms_api_key' is missing; add the SMS gateway's key "
            "or remove the sender name",
            code="hello.sms_key_missing",
        )


def greeting_for(ctx: TenantContext) -> str:
    """The greeting of ``ctx.tenant`` as its administrator configured it: "Xin chào, Phường Một!"."""
    greeting = str(ctx.settings.get("greeting") or DEFAULT_GREETING)
    return f"{greeting}, {ctx.tenant.name}!"


def sends_sms(ctx: TenantContext) -> bool:
    """Whether this tenant configured SMS (the key itself never leaves the plugin)."""
    return bool(ctx.settings.get("sms_sender") and ctx.settings.get("sms_api_key"))
