"""Capabilities: the SDK's policy owns them (:mod:`nentang.sdk.policy.capabilities`), so the review and
``nentang sdk check`` read a manifest's ``capabilities`` the same way; re-exported for the sandbox."""

from __future__ import annotations

from nentang.sdk.policy.capabilities import HTTP_CLIENT_MODULES, Allowance, allowance

__all__ = ["HTTP_CLIENT_MODULES", "Allowance", "allowance"]
