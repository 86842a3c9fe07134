"""OpenID Connect login (authorization-code flow with PKCE) against one configurable issuer.

Why a module of its own: the national and provincial identity providers are external systems whose
answers are trusted only after checking them. This relying party knows nothing of the database or
of HTTP routes; the login routes keep the :class:`LoginRequest` between the redirect and the callback
(server-side, bound to the browser session) and turn the returned
:class:`~nentang.kernel.identity.oidc_id_token.OIDCIdentity` into a user.

This module holds the code flow — one sign-in's :class:`LoginRequest`, the callback, the code exchange —
and :class:`OIDCClient`, the entry point that ties the other parts together, one concept each:
``oidc_settings`` (the registration, checked when built), ``oidc_provider`` (discovery and JWKS, fetched
and cached), ``oidc_id_token`` (verifying an ID token into an identity) and ``oidc_untrusted`` (comparing
and echoing what the provider or the browser sent).

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

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, final
from urllib.parse import quote

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from nentang.kernel.identity.oidc_id_token import IDTokenVerifier, OIDCIdentity
from nentang.kernel.identity.oidc_provider import OIDCProvider
from nentang.kernel.identity.oidc_settings import OIDCSettings, TokenEndpointAuthMethod
from nentang.kernel.identity.oidc_untrusted import echo, same_secret
from nentang.sdk.errors import PermissionDenied


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
        self._provider = OIDCProvider(settings, self._http)
        self._id_tokens = IDTokenVerifier(settings, self._provider, clock)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> OIDCClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def metadata(self) -> Mapping[str, Any]:
        """The discovery document, fetched once per ``cache_ttl_seconds`` and checked against the settings."""
        return self._provider.metadata()

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
        if (state is not None or "error" not in callback_params) and not same_secret(state, request.state):
            raise PermissionDenied(
                f"OIDC callback from {issuer!r} does not belong to this login (state mismatch); "
                "the browser may have been sent a forged link — start the login again",
                code="auth.oidc_state_mismatch",
            )
        if "iss" in callback_params and callback_params["iss"] != issuer:
            raise PermissionDenied(
                f"OIDC callback names issuer {echo(callback_params['iss'])!r}, expected {issuer!r} (mix-up attempt?)",
                code="auth.oidc_callback_wrong_issuer",
            )
        if "error" in callback_params:
            description = callback_params.get("error_description")
            raise PermissionDenied(
                f"OIDC issuer {issuer!r} refused the login: {echo(callback_params['error'])}"
                + (f" ({echo(description)})" if description else ""),
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
        response = self._provider.send("POST", meta["token_endpoint"], "token endpoint", data=data, auth=auth)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise PermissionDenied(
                f"OIDC issuer {self.settings.issuer!r} did not exchange the code for an ID token "
                f"(HTTP {response.status_code}, error {echo(str(error))!r}); check client_id, client_secret "
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
        return self._id_tokens.verify(token, nonce, access_token=access_token)


__all__ = ["LoginRequest", "OIDCClient"]
