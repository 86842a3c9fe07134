"""The settings of one relying-party registration at one OpenID issuer, checked when they are built.

A module of its own because the identity configuration (``identity/config.py``) builds them from the
environment and needs none of the client's HTTP and JOSE machinery. A bad setting is refused as soon
as the value is built — at start-up, when read from the environment — with ``auth.oidc_bad_settings``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final, Literal, final
from urllib.parse import urlsplit

from nentang.sdk.errors import ValidationFailed

_LOOPBACK_NAMES: Final = frozenset({"localhost"})

TokenEndpointAuthMethod = Literal["client_secret_basic", "client_secret_post"]


@final
@dataclass(frozen=True, slots=True)
class OIDCSettings:
    """One relying-party registration at one issuer; a plain value so tests build as many as they need."""

    #: The issuer identifier exactly as the provider publishes it (no trailing slash added or removed).
    issuer: str
    #: The client id the provider registered for this deployment.
    client_id: str
    #: The client secret; kept out of ``repr`` so it never reaches a log line.
    client_secret: str = field(repr=False)
    #: The callback URL registered with the provider; sent on both the authorization and the token request.
    redirect_uri: str
    #: Scopes requested; must include ``openid``.
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: Clock skew tolerated on ``exp``, ``iat`` and ``nbf`` (seconds).
    leeway_seconds: int = 60
    #: Timeout of every request to the provider (seconds).
    http_timeout_seconds: float = 10.0
    #: How long discovery and JWKS answers are reused before being fetched again (seconds).
    cache_ttl_seconds: float = 3600.0
    #: An unknown key id triggers one JWKS refetch (key rotation), but never more often than this (seconds).
    jwks_min_refresh_seconds: float = 60.0
    #: How long a :class:`~nentang.kernel.identity.oidc.LoginRequest` may wait for its callback (seconds).
    login_timeout_seconds: float = 600.0
    #: Token endpoint client authentication; ``None`` picks what discovery announces (basic preferred).
    token_endpoint_auth_method: TokenEndpointAuthMethod | None = None
    #: Audiences besides ``client_id`` that an ID token may also name; any other extra audience is refused.
    trusted_audiences: tuple[str, ...] = ()
    #: Sign-ins one client address may start per minute and worker (``/auth/oidc/start``; 429 beyond).
    starts_per_minute: int = 20

    def __post_init__(self) -> None:
        problems = []
        if not _is_secure_or_loopback(self.issuer):
            problems.append(f"issuer {self.issuer!r} must be an https URL (plain http only on loopback)")
        if not self.client_id:
            problems.append("client_id is empty")
        if not self.client_secret:
            problems.append("client_secret is empty")
        if not self.redirect_uri:
            problems.append("redirect_uri is empty")
        if "openid" not in self.scopes:
            problems.append(f"scopes {self.scopes!r} must include 'openid'")
        if self.leeway_seconds < 0 or self.http_timeout_seconds <= 0:
            problems.append("leeway_seconds must be >= 0 and http_timeout_seconds > 0")
        if self.starts_per_minute < 1:
            problems.append(f"starts_per_minute must be at least 1, not {self.starts_per_minute}")
        if problems:
            raise ValidationFailed("OIDC settings are invalid: " + "; ".join(problems), code="auth.oidc_bad_settings")


def _is_secure_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


__all__ = ["OIDCSettings", "TokenEndpointAuthMethod"]
