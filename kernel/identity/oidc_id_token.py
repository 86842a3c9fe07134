"""Verifying an ID token: signature, issuer, audience, times, nonce and ``at_hash``, then who it names.

Separate from the code flow because it is the security-critical core, best read and reviewed on its
own; it needs nothing of the flow but the nonce, and only reads the provider's cached metadata and
keys. Every refusal is a :class:`PermissionDenied` with the issuer and never the token:
``auth.oidc_invalid_token`` (malformed or a required claim missing), ``auth.oidc_disallowed_algorithm``,
``auth.oidc_unknown_key``, ``auth.oidc_bad_signature``, ``auth.oidc_token_wrong_issuer``,
``auth.oidc_wrong_audience``, ``auth.oidc_expired``, ``auth.oidc_not_yet_valid``,
``auth.oidc_nonce_mismatch``, ``auth.oidc_at_hash_mismatch``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, final

from authlib.common.encoding import to_bytes
from authlib.oidc.core.util import create_half_hash
from joserfc import jws
from joserfc.errors import JoseError

from nentang.kernel.identity.oidc_provider import ASYMMETRIC_ALGORITHMS, OIDCProvider, allowed_algorithms
from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.oidc_untrusted import echo, same_secret
from nentang.sdk.errors import PermissionDenied

_MAX_SUBJECT_CHARS: Final = 255  # OpenID Connect Core §2; the user table stores it in as many


@final
@dataclass(frozen=True, slots=True)
class OIDCIdentity:
    """A verified person at an issuer. ``(issuer, subject)`` is the only stable key; email can change."""

    issuer: str
    subject: str
    email: str | None
    #: True only when the provider said so with a JSON ``true``.
    email_verified: bool
    name: str | None
    #: Every claim of the verified ID token, read-only.
    claims: Mapping[str, Any]


@final
class IDTokenVerifier:
    """Checks ID tokens from one issuer for one client against the provider's keys."""

    def __init__(self, settings: OIDCSettings, provider: OIDCProvider, clock: Callable[[], float]) -> None:
        """:param clock: unix time source for ``exp``, ``iat`` and ``nbf``; tests move it instead of waiting."""
        self.settings = settings
        self._provider = provider
        self._clock = clock

    def verify(self, token: str, nonce: str | None, *, access_token: str | None = None) -> OIDCIdentity:
        """Verify an ID token from this issuer for this client and return who it names.

        :param nonce: the nonce of the login that asked for it; ``None`` skips the check (only for tokens
            that did not come from :meth:`~nentang.kernel.identity.oidc.OIDCClient.begin_login`, e.g. an
            ``id_token_hint``).
        :param access_token: when given and the token carries ``at_hash``, the two must match.
        """
        try:
            obj = jws.extract_compact(to_bytes(token))
            header = obj.headers()
            claims = json.loads(obj.payload)
        except (JoseError, ValueError, TypeError):
            raise self._refuse("auth.oidc_invalid_token", "is not a well-formed signed JWT") from None
        if not isinstance(claims, dict):
            raise self._refuse("auth.oidc_invalid_token", "has a payload that is not a JSON object")
        alg = header.get("alg")
        if alg not in allowed_algorithms(self._provider.metadata()):
            raise self._refuse(
                "auth.oidc_disallowed_algorithm",
                f"is signed with {echo(str(alg))!r}, which is not an asymmetric algorithm the issuer announces",
            )
        self._verify_signature(obj, header, alg)
        self._check_claims(claims, nonce)
        at_hash = claims.get("at_hash")
        if access_token is not None and at_hash is not None:
            # Ed25519 hashes with SHA-512 like EdDSA; a hash authlib cannot name (Ed448) refuses, not skips.
            expected = create_half_hash(access_token, "EdDSA" if alg == "Ed25519" else alg)
            if expected is None or not hmac.compare_digest(to_bytes(str(at_hash)), expected):
                raise self._refuse("auth.oidc_at_hash_mismatch", "does not match the access token issued with it")
        email, name = claims.get("email"), claims.get("name")
        return OIDCIdentity(
            issuer=self.settings.issuer,
            subject=claims["sub"],
            email=email if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") is True,
            name=name if isinstance(name, str) else None,
            claims=MappingProxyType(claims),
        )

    def _verify_signature(self, obj: jws.CompactSignature, header: Mapping[str, Any], alg: str) -> None:
        kid = header.get("kid")
        for refresh in (False, True):
            keys = self._provider.signing_keys(refresh=refresh)
            candidates = [
                key
                for key, key_alg in keys
                if key.key_type == ASYMMETRIC_ALGORITHMS[alg]
                and key_alg in (None, alg)
                and (kid is None or key.kid == kid)
            ]
            for key in candidates:
                try:
                    if jws.validate_compact(obj, key, algorithms=[alg]):
                        return
                except JoseError:
                    continue
            if candidates and kid is not None:
                break  # the named key exists and refused the signature: a refetch would not change that
        if kid is not None and not candidates:
            raise self._refuse(
                "auth.oidc_unknown_key",
                f"is signed with key id {echo(str(kid))!r}, which the issuer's JWKS does not publish",
            )
        raise self._refuse("auth.oidc_bad_signature", "has a signature that does not verify against the issuer's keys")

    def _check_claims(self, claims: Mapping[str, Any], nonce: str | None) -> None:
        settings, now, leeway = self.settings, self._clock(), self.settings.leeway_seconds
        for name in ("iss", "sub", "aud", "exp", "iat"):
            if name not in claims:
                raise self._refuse("auth.oidc_invalid_token", f"lacks the required claim {name!r}")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= _MAX_SUBJECT_CHARS:
            raise self._refuse("auth.oidc_invalid_token", "has no usable 'sub' claim (1 to 255 characters)")
        times = {name: claims.get(name) for name in ("exp", "iat", "nbf")}
        for name, value in times.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise self._refuse("auth.oidc_invalid_token", f"has a non-numeric {name!r} claim")
        if claims["iss"] != settings.issuer:
            raise self._refuse(
                "auth.oidc_token_wrong_issuer", f"was issued by {echo(str(claims['iss']))!r}, not {settings.issuer!r}"
            )
        audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
        if not isinstance(audiences, list) or settings.client_id not in audiences:
            raise self._refuse(
                "auth.oidc_wrong_audience", f"is meant for {echo(str(claims['aud']))!r}, not this client"
            )
        untrusted = [a for a in audiences if a != settings.client_id and a not in settings.trusted_audiences]
        if untrusted:
            raise self._refuse(
                "auth.oidc_wrong_audience", f"also names audiences this client does not trust: {echo(str(untrusted))}"
            )
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != settings.client_id:
            raise self._refuse(
                "auth.oidc_wrong_audience",
                f"was authorised for party {echo(str(claims.get('azp')))!r}, not this client",
            )
        if now >= times["exp"] + leeway:
            raise self._refuse("auth.oidc_expired", f"expired {now - times['exp']:.0f} s ago (leeway {leeway} s)")
        for name in ("iat", "nbf"):
            value = times[name]
            if value is not None and value > now + leeway:
                raise self._refuse(
                    "auth.oidc_not_yet_valid", f"has {name!r} {value - now:.0f} s in the future (leeway {leeway} s)"
                )
        if nonce is not None and not same_secret(claims.get("nonce"), nonce):
            raise self._refuse("auth.oidc_nonce_mismatch", "was not issued for this login (nonce mismatch); replay?")

    def _refuse(self, code: str, reason: str) -> PermissionDenied:
        return PermissionDenied(f"ID token from {self.settings.issuer!r} {reason}", code=code)


__all__ = ["IDTokenVerifier", "OIDCIdentity"]
