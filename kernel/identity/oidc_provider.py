"""The OpenID issuer as this relying party sees it: its discovery document and signature keys, cached.

Separate from the code flow and the ID-token checks because it is the only part that holds state
between logins (the caches, behind a lock) and the only part that talks to the provider over HTTP.
Everything it fetches is checked before it is cached: the discovery document must name the
configured issuer exactly and announce an acceptable algorithm; the JWKS must hold a usable key.
Its refusals are the provider's faults, not the user's (:class:`NentangError`):
``auth.oidc_unreachable``, ``auth.oidc_bad_discovery``, ``auth.oidc_wrong_issuer``, ``auth.oidc_bad_jwks``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, final

import httpx
from joserfc import jwk
from joserfc.errors import JoseError

from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.oidc_untrusted import echo
from nentang.sdk.errors import NentangError

#: Signature algorithms accepted for ID tokens, each with the key type it needs. Only asymmetric ones:
#: ``none`` and the HMAC family (whose "key" would be the client secret or, in the classic confusion
#: attack, the provider's public key) are never accepted, whatever the provider announces.
ASYMMETRIC_ALGORITHMS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{f"{family}{bits}": "RSA" for family in ("RS", "PS") for bits in (256, 384, 512)},
        **{f"ES{bits}": "EC" for bits in (256, 384, 512)},
        "ES256K": "EC",
        "EdDSA": "OKP",
        "Ed25519": "OKP",
        "Ed448": "OKP",
    }
)


def allowed_algorithms(doc: Mapping[str, Any]) -> frozenset[str]:
    """The ID token algorithms a discovery document announces that NenTang also accepts."""
    # RS256 is the algorithm every OpenID provider must support when it announces nothing.
    announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    return frozenset(a for a in announced if isinstance(a, str) and a in ASYMMETRIC_ALGORITHMS)


@final
class OIDCProvider:
    """Discovery and JWKS of one issuer, fetched lazily and reused for ``cache_ttl_seconds``; thread-safe."""

    def __init__(self, settings: OIDCSettings, http: httpx.Client) -> None:
        self.settings = settings
        self._http = http
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: list[tuple[jwk.Key, str | None]] = []
        self._keys_at: float | None = None

    def metadata(self) -> Mapping[str, Any]:
        """The discovery document, fetched once per ``cache_ttl_seconds`` and checked against the settings."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > self.settings.cache_ttl_seconds:
                self._metadata = self._fetch_metadata()
                self._metadata_at = time.monotonic()
            return self._metadata

    def signing_keys(self, *, refresh: bool) -> list[tuple[jwk.Key, str | None]]:
        """The issuer's signature keys; ``refresh`` asks for a refetch, honoured at most once per interval."""
        jwks_uri = self.metadata()["jwks_uri"]
        with self._lock:
            now = time.monotonic()
            stale = self._keys_at is None or now - self._keys_at > self.settings.cache_ttl_seconds
            may_refresh = self._keys_at is None or now - self._keys_at >= self.settings.jwks_min_refresh_seconds
            if stale or (refresh and may_refresh):
                self._keys = self._fetch_keys(jwks_uri)
                self._keys_at = now
            return self._keys

    def send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        """One request to the provider, within ``http_timeout_seconds``; a network failure is refused as
        ``auth.oidc_unreachable``, naming ``what`` was asked for."""
        try:
            return self._http.request(method, url, timeout=self.settings.http_timeout_seconds, **kwargs)
        except httpx.HTTPError as exc:
            raise NentangError(
                f"OIDC issuer {self.settings.issuer!r} is unreachable ({what} at {url}: {type(exc).__name__}); "
                "check the issuer URL and the network path to it",
                code="auth.oidc_unreachable",
            ) from None

    def _fetch_metadata(self) -> dict[str, Any]:
        issuer = self.settings.issuer
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
        if doc.get("issuer") != issuer:
            raise NentangError(
                f"OIDC issuer {issuer!r}: its discovery document names issuer {echo(str(doc.get('issuer')))!r}; "
                "the configured issuer must equal it exactly (check scheme, host, port and trailing slash)",
                code="auth.oidc_wrong_issuer",
            )
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise NentangError(
                f"OIDC issuer {issuer!r}: its discovery document lacks {', '.join(missing)}",
                code="auth.oidc_bad_discovery",
            )
        if not allowed_algorithms(doc):
            raise NentangError(
                f"OIDC issuer {issuer!r} announces only ID token algorithms NenTang refuses "
                f"({doc.get('id_token_signing_alg_values_supported')!r}); ask for an asymmetric one such as RS256",
                code="auth.oidc_bad_discovery",
            )
        return doc

    def _fetch_keys(self, jwks_uri: str) -> list[tuple[jwk.Key, str | None]]:
        doc = self._get_json(jwks_uri, "JWKS")
        entries = doc.get("keys")
        if not isinstance(entries, list):
            raise NentangError(
                f"OIDC issuer {self.settings.issuer!r}: its JWKS has no 'keys' list", code="auth.oidc_bad_jwks"
            )
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys.append((jwk.import_key(entry), entry.get("alg")))
            except (JoseError, ValueError, TypeError):
                continue  # a key type we cannot use is skipped, not fatal: the others may still sign
        if not keys:
            raise NentangError(
                f"OIDC issuer {self.settings.issuer!r}: its JWKS holds no usable signature key",
                code="auth.oidc_bad_jwks",
            )
        return keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = self.send("GET", url, what)
        try:
            doc = response.json() if response.status_code == 200 else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            code = "auth.oidc_bad_jwks" if what == "JWKS" else "auth.oidc_bad_discovery"
            raise NentangError(
                f"OIDC issuer {self.settings.issuer!r}: {what} at {url} answered HTTP {response.status_code} "
                "without a JSON object",
                code=code,
            )
        return doc


__all__ = ["ASYMMETRIC_ALGORITHMS", "OIDCProvider", "allowed_algorithms"]
