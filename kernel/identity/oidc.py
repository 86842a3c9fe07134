"""OpenID Connect login (authorization-code flow with PKCE) against one configurable issuer.

Why a module of its own: the national and provincial identity providers are external systems whose
answers are trusted only after checking them. This relying party knows nothing of the database or
of HTTP routes; the login routes keep the :class:`LoginRequest` between the redirect and the callback
(server-side, bound to the browser session) and turn the returned :class:`OIDCIdentity` into a user.

What is checked, and the machine code of each refusal (all carry the issuer, none carry a token):

- configuration: ``auth.oidc_bad_settings`` (:class:`ValidationFailed`);
- the provider itself (:class:`NentangError`, an infrastructure fault, not the user's):
  ``auth.oidc_unreachable``, ``auth.oidc_bad_discovery``, ``auth.oidc_wrong_issuer`` (the discovery
  document names another issuer), ``auth.oidc_bad_jwks``;
- the login attempt (:class:`PermissionDenied`): ``auth.oidc_login_expired``, ``auth.oidc_state_mismatch``,
  ``auth.oidc_callback_wrong_issuer``, ``auth.oidc_provider_error``, ``auth.oidc_missing_code``,
  ``auth.oidc_token_exchange_failed``;
- the ID token (:class:`PermissionDenied`): ``auth.oidc_invalid_token`` (malformed or a required claim
  missing), ``auth.oidc_disallowed_algorithm``, ``auth.oidc_unknown_key``, ``auth.oidc_bad_signature``,
  ``auth.oidc_token_wrong_issuer``, ``auth.oidc_wrong_audience``, ``auth.oidc_expired``,
  ``auth.oidc_not_yet_valid``, ``auth.oidc_nonce_mismatch``, ``auth.oidc_at_hash_mismatch``.

JOSE work (parsing and verifying the JWS) is joserfc's; PKCE, the authorization URL and the half-hash of
``at_hash`` are authlib's; HTTP is httpx's. Nothing here hand-rolls cryptography.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, final
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.encoding import to_bytes
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from joserfc import jwk, jws
from joserfc.errors import JoseError

from nentang.sdk.errors import NentangError, PermissionDenied, ValidationFailed

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
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_MAX_ECHOED_CHARS: Final = 200
_MAX_SUBJECT_CHARS: Final = 255  # OpenID Connect Core §2; the user table stores it in as many

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
    #: How long a :class:`LoginRequest` may wait for its callback (seconds).
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


@final
@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the login route must keep (server-side, tied to the browser) until the provider calls back.

    ``state`` ties the callback to this browser, ``nonce`` ties the ID token to this login, and
    ``code_verifier`` (PKCE) ties the code exchange to this client; all three are secrets.
    """

    #: Where to send the browser.
    authorization_url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    #: Unix time of creation; a callback after ``login_timeout_seconds`` is refused.
    created_at: float


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
class OIDCClient:
    """The relying party for one :class:`OIDCSettings`; safe to share between threads of a worker.

    Discovery and JWKS are fetched lazily and cached (``cache_ttl_seconds``); a token signed by a key the
    cache does not hold triggers one refetch, rate-limited by ``jwks_min_refresh_seconds``. The calls are
    blocking; an async route runs them in a thread pool.
    """

    def __init__(
        self, settings: OIDCSettings, http: httpx.Client | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Build the client; no request is made until the first login or token check.

        :param http: a client to reuse (connection pooling); if not given, one is created and
            :meth:`close` closes it.
        :param clock: unix time source for token and login expiry; tests move it instead of waiting.
        """
        self.settings = settings
        self._http = http if http is not None else httpx.Client()
        self._owns_http = http is None
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: list[tuple[jwk.Key, str | None]] = []
        self._keys_at: float | None = None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> OIDCClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- provider metadata ------------------------------------------------------------------------------

    def metadata(self) -> Mapping[str, Any]:
        """The discovery document, fetched once per ``cache_ttl_seconds`` and checked against the settings."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > self.settings.cache_ttl_seconds:
                self._metadata = self._fetch_metadata()
                self._metadata_at = time.monotonic()
            return self._metadata

    def _fetch_metadata(self) -> dict[str, Any]:
        issuer = self.settings.issuer
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
        if doc.get("issuer") != issuer:
            raise NentangError(
                f"OIDC issuer {issuer!r}: its discovery document names issuer {_echo(str(doc.get('issuer')))!r}; "
                "the configured issuer must equal it exactly (check scheme, host, port and trailing slash)",
                code="auth.oidc_wrong_issuer",
            )
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise NentangError(
                f"OIDC issuer {issuer!r}: its discovery document lacks {', '.join(missing)}",
                code="auth.oidc_bad_discovery",
            )
        if not self._allowed_algorithms(doc):
            raise NentangError(
                f"OIDC issuer {issuer!r} announces only ID token algorithms NenTang refuses "
                f"({doc.get('id_token_signing_alg_values_supported')!r}); ask for an asymmetric one such as RS256",
                code="auth.oidc_bad_discovery",
            )
        return doc

    @staticmethod
    def _allowed_algorithms(doc: Mapping[str, Any]) -> frozenset[str]:
        # RS256 is the algorithm every OpenID provider must support when it announces nothing.
        announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        return frozenset(a for a in announced if isinstance(a, str) and a in ASYMMETRIC_ALGORITHMS)

    def _signing_keys(self, *, refresh: bool) -> list[tuple[jwk.Key, str | None]]:
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
        response = self._send("GET", url, what)
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

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, timeout=self.settings.http_timeout_seconds, **kwargs)
        except httpx.HTTPError as exc:
            raise NentangError(
                f"OIDC issuer {self.settings.issuer!r} is unreachable ({what} at {url}: {type(exc).__name__}); "
                "check the issuer URL and the network path to it",
                code="auth.oidc_unreachable",
            ) from None

    # -- the code flow -----------------------------------------------------------------------------------

    def begin_login(self) -> LoginRequest:
        """Start a login: fresh state, nonce and PKCE verifier, and the URL to send the browser to."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url = prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            self.settings.client_id,
            "code",
            redirect_uri=self.settings.redirect_uri,
            scope=list(self.settings.scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return LoginRequest(url, state, nonce, verifier, created_at=self._clock())

    def complete_login(self, request: LoginRequest, callback_params: Mapping[str, str]) -> OIDCIdentity:
        """Finish a login from the query parameters of the callback; nothing is trusted before it is checked.

        The state is compared before anything else, so a forged callback never reaches the token endpoint
        and never consumes a code.
        """
        issuer = self.settings.issuer
        if self._clock() - request.created_at > self.settings.login_timeout_seconds:
            raise PermissionDenied(
                f"OIDC login at {issuer!r} took longer than {self.settings.login_timeout_seconds:.0f} s; start again",
                code="auth.oidc_login_expired",
            )
        state = callback_params.get("state")
        if (state is not None or "error" not in callback_params) and not _same(state, request.state):
            raise PermissionDenied(
                f"OIDC callback from {issuer!r} does not belong to this login (state mismatch); "
                "the browser may have been sent a forged link — start the login again",
                code="auth.oidc_state_mismatch",
            )
        if "iss" in callback_params and callback_params["iss"] != issuer:
            raise PermissionDenied(
                f"OIDC callback names issuer {_echo(callback_params['iss'])!r}, expected {issuer!r} (mix-up attempt?)",
                code="auth.oidc_callback_wrong_issuer",
            )
        if "error" in callback_params:
            description = callback_params.get("error_description")
            raise PermissionDenied(
                f"OIDC issuer {issuer!r} refused the login: {_echo(callback_params['error'])}"
                + (f" ({_echo(description)})" if description else ""),
                code="auth.oidc_provider_error",
            )
        code = callback_params.get("code")
        if not code:
            raise PermissionDenied(f"OIDC callback from {issuer!r} carries no code", code="auth.oidc_missing_code")
        tokens = self._exchange_code(code, request.code_verifier)
        return self.validate_id_token(tokens["id_token"], request.nonce, access_token=tokens.get("access_token"))

    def _exchange_code(self, code: str, verifier: str) -> dict[str, Any]:
        meta = self.metadata()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": verifier,
        }
        auth: httpx.BasicAuth | None = None
        if self._auth_method(meta) == "client_secret_post":
            data |= {"client_id": self.settings.client_id, "client_secret": self.settings.client_secret}
        else:  # RFC 6749 §2.3.1: both parts are form-encoded before the Basic encoding
            auth = httpx.BasicAuth(quote(self.settings.client_id, safe=""), quote(self.settings.client_secret, safe=""))
        response = self._send("POST", meta["token_endpoint"], "token endpoint", data=data, auth=auth)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise PermissionDenied(
                f"OIDC issuer {self.settings.issuer!r} did not exchange the code for an ID token "
                f"(HTTP {response.status_code}, error {_echo(str(error))!r}); check client_id, client_secret "
                "and redirect_uri, or start the login again if the code was used or expired",
                code="auth.oidc_token_exchange_failed",
            )
        return body

    def _auth_method(self, meta: Mapping[str, Any]) -> TokenEndpointAuthMethod:
        if self.settings.token_endpoint_auth_method is not None:
            return self.settings.token_endpoint_auth_method
        supported = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"

    # -- the ID token ------------------------------------------------------------------------------------

    def validate_id_token(self, token: str, nonce: str | None, *, access_token: str | None = None) -> OIDCIdentity:
        """Verify an ID token from this issuer for this client and return who it names.

        :param nonce: the nonce of the login that asked for it; ``None`` skips the check (only for tokens
            that did not come from :meth:`begin_login`, e.g. an ``id_token_hint``).
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
        if alg not in self._allowed_algorithms(self.metadata()):
            raise self._refuse(
                "auth.oidc_disallowed_algorithm",
                f"is signed with {_echo(str(alg))!r}, which is not an asymmetric algorithm the issuer announces",
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
            keys = self._signing_keys(refresh=refresh)
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
                f"is signed with key id {_echo(str(kid))!r}, which the issuer's JWKS does not publish",
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
                "auth.oidc_token_wrong_issuer", f"was issued by {_echo(str(claims['iss']))!r}, not {settings.issuer!r}"
            )
        audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
        if not isinstance(audiences, list) or settings.client_id not in audiences:
            raise self._refuse(
                "auth.oidc_wrong_audience", f"is meant for {_echo(str(claims['aud']))!r}, not this client"
            )
        untrusted = [a for a in audiences if a != settings.client_id and a not in settings.trusted_audiences]
        if untrusted:
            raise self._refuse(
                "auth.oidc_wrong_audience", f"also names audiences this client does not trust: {_echo(str(untrusted))}"
            )
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != settings.client_id:
            raise self._refuse(
                "auth.oidc_wrong_audience",
                f"was authorised for party {_echo(str(claims.get('azp')))!r}, not this client",
            )
        if now >= times["exp"] + leeway:
            raise self._refuse("auth.oidc_expired", f"expired {now - times['exp']:.0f} s ago (leeway {leeway} s)")
        for name in ("iat", "nbf"):
            value = times[name]
            if value is not None and value > now + leeway:
                raise self._refuse(
                    "auth.oidc_not_yet_valid", f"has {name!r} {value - now:.0f} s in the future (leeway {leeway} s)"
                )
        if nonce is not None and not _same(claims.get("nonce"), nonce):
            raise self._refuse("auth.oidc_nonce_mismatch", "was not issued for this login (nonce mismatch); replay?")

    def _refuse(self, code: str, reason: str) -> PermissionDenied:
        return PermissionDenied(f"ID token from {self.settings.issuer!r} {reason}", code=code)


def _same(received: object, expected: str) -> bool:
    """Constant-time equality of a received secret-ish value with the one we keep."""
    return isinstance(received, str) and hmac.compare_digest(received.encode(), expected.encode())


def _echo(value: str | None) -> str:
    """Provider- or attacker-supplied text, made safe to put in a message: printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= _MAX_ECHOED_CHARS else text[:_MAX_ECHOED_CHARS] + "…"


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


__all__ = ["ASYMMETRIC_ALGORITHMS", "LoginRequest", "OIDCClient", "OIDCIdentity", "OIDCSettings"]
