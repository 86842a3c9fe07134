"""OIDC login against a real issuer on loopback (oidc-provider-mock), and every refusal with its code.

The main flow and most refusals use tokens the real provider signs; a small key-only issuer
(:class:`KeyIssuer`) serves the cases the provider cannot produce (extra audiences, key rotation).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from nentang.kernel.identity.oidc import OIDCClient
from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.sdk.errors import NentangError, PermissionDenied, ValidationFailed
from tests.fixtures.oidc_issuers import KeyIssuer, authorize, mock_provider, register_client, sign

pytestmark = [
    # oidc-provider-mock 0.3.x (the last line for Python 3.11) imports authlib.jose and calls an authlib hook
    # that authlib 1.9 deprecates; both warnings come from the provider under test, not from NenTang.
    pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(r"ignore:get_jwt_config\(self, grant\) is deprecated:DeprecationWarning"),
]

#: Nothing listens here: the "browser" stops at the redirect and hands its query to the client.
REDIRECT_URI = "http://127.0.0.1:8000/auth/oidc/callback"
CITIZEN = {"email": "an.nguyen@hanoi.gov.vn", "email_verified": True, "name": "Nguyễn Văn An"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with mock_provider() as url:
        yield url


@pytest.fixture(scope="module")
def settings(http: httpx.Client, issuer: str) -> OIDCSettings:
    client_id, secret = register_client(http, issuer, REDIRECT_URI)
    return OIDCSettings(issuer=issuer, client_id=client_id, client_secret=secret, redirect_uri=REDIRECT_URI)


@pytest.fixture
def rp(settings: OIDCSettings, http: httpx.Client) -> OIDCClient:
    return OIDCClient(settings, http)


def issue_id_token(http: httpx.Client, settings: OIDCSettings, sub: str = "to-khai-01") -> tuple[str, str]:
    """A genuine ID token from the provider for ``settings``' client (code flow by hand); returns it and its nonce."""
    login = OIDCClient(settings, http).begin_login()
    callback = authorize(http, settings.issuer, login.authorization_url, sub, CITIZEN)
    response = http.post(
        f"{settings.issuer}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": settings.redirect_uri,
            "code_verifier": login.code_verifier,
        },
        auth=(settings.client_id, settings.client_secret),
    )
    response.raise_for_status()
    return response.json()["id_token"], login.nonce


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(settings: OIDCSettings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": settings.issuer, "sub": "x", "aud": [settings.client_id], "iat": now, "exp": now + 300} | overrides


# -- the code flow against the real provider ------------------------------------------------------------------


def test_code_flow_yields_the_identity_the_provider_asserted(rp: OIDCClient, http: httpx.Client, issuer: str) -> None:
    login = rp.begin_login()
    query = parse_qs(urlsplit(login.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["openid email profile"]
    assert query["state"] == [login.state] and query["nonce"] == [login.nonce]

    callback = authorize(http, issuer, login.authorization_url, "cong-chuc-0001", CITIZEN)
    identity = rp.complete_login(login, callback)

    assert (identity.issuer, identity.subject) == (issuer, "cong-chuc-0001")
    assert (identity.email, identity.email_verified, identity.name) == (
        "an.nguyen@hanoi.gov.vn",
        True,
        "Nguyễn Văn An",
    )
    assert identity.claims["aud"] == [rp.settings.client_id] and identity.claims["nonce"] == login.nonce


def test_client_secret_post_is_used_when_configured(http: httpx.Client, issuer: str) -> None:
    client_id, secret = register_client(http, issuer, REDIRECT_URI, method="client_secret_post")
    settings = OIDCSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="client_secret_post",
    )
    rp = OIDCClient(settings, http)
    login = rp.begin_login()
    identity = rp.complete_login(login, authorize(http, issuer, login.authorization_url, "post-user", CITIZEN))
    assert identity.subject == "post-user"


def test_state_mismatch_is_refused_before_the_code_is_spent(rp: OIDCClient, http: httpx.Client, issuer: str) -> None:
    login = rp.begin_login()
    callback = authorize(http, issuer, login.authorization_url, "state-user", CITIZEN)
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, {**callback, "state": "forged"})
    assert info.value.code == "auth.oidc_state_mismatch"
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, {"code": callback["code"]})  # no state at all
    assert info.value.code == "auth.oidc_state_mismatch"
    # Nothing changed: the code was never sent, so the genuine callback still completes.
    assert rp.complete_login(login, callback).subject == "state-user"


def test_provider_error_access_denied(rp: OIDCClient, http: httpx.Client, issuer: str) -> None:
    login = rp.begin_login()
    callback = authorize(http, issuer, login.authorization_url, None)  # the user presses "Deny"
    assert callback["error"] == "access_denied"
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, callback)
    assert info.value.code == "auth.oidc_provider_error"
    assert "access_denied" in str(info.value) and rp.settings.issuer in str(info.value)


def test_code_replay_and_wrong_secret_fail_the_exchange(
    rp: OIDCClient, settings: OIDCSettings, http: httpx.Client, issuer: str
) -> None:
    login = rp.begin_login()
    callback = authorize(http, issuer, login.authorization_url, "replay-user", CITIZEN)
    rp.complete_login(login, callback)
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, callback)
    assert info.value.code == "auth.oidc_token_exchange_failed" and "invalid_grant" in str(info.value)

    wrong = OIDCClient(dataclasses.replace(settings, client_secret="not-the-secret"), http)
    login = wrong.begin_login()
    callback = authorize(http, issuer, login.authorization_url, "replay-user", CITIZEN)
    with pytest.raises(PermissionDenied) as info:
        wrong.complete_login(login, callback)
    assert info.value.code == "auth.oidc_token_exchange_failed" and "invalid_client" in str(info.value)


def test_nonce_mismatch(rp: OIDCClient, http: httpx.Client, issuer: str) -> None:
    login = rp.begin_login()
    callback = authorize(http, issuer, login.authorization_url, "nonce-user", CITIZEN)
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(dataclasses.replace(login, nonce="another-login"), callback)
    assert info.value.code == "auth.oidc_nonce_mismatch"


def test_callback_naming_another_issuer_is_refused(rp: OIDCClient) -> None:
    login = rp.begin_login()
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, {"state": login.state, "code": "c", "iss": "https://evil.example"})
    assert info.value.code == "auth.oidc_callback_wrong_issuer"


def test_login_that_waited_too_long_is_refused(settings: OIDCSettings, http: httpx.Client) -> None:
    now = [time.time()]
    rp = OIDCClient(settings, http, clock=lambda: now[0])
    login = rp.begin_login()
    now[0] += settings.login_timeout_seconds + 1
    with pytest.raises(PermissionDenied) as info:
        rp.complete_login(login, {"state": login.state, "code": "c"})
    assert info.value.code == "auth.oidc_login_expired"


# -- ID tokens the real provider signed, then misused --------------------------------------------------------


def test_altered_payload_or_signature_is_a_bad_signature(
    rp: OIDCClient, settings: OIDCSettings, http: httpx.Client
) -> None:
    token, nonce = issue_id_token(http, settings)
    assert rp.validate_id_token(token, nonce).subject == "to-khai-01"
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    elevated = f"{header}.{b64(json.dumps(claims | {'sub': 'admin'}).encode())}.{signature}"
    flipped = f"{header}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    for forged in (elevated, flipped):
        with pytest.raises(PermissionDenied) as info:
            rp.validate_id_token(forged, nonce)
        assert info.value.code == "auth.oidc_bad_signature"
        assert signature not in str(info.value) and payload not in str(info.value)


def test_token_for_another_client_is_the_wrong_audience(
    rp: OIDCClient, settings: OIDCSettings, http: httpx.Client, issuer: str
) -> None:
    other_id, other_secret = register_client(http, issuer, REDIRECT_URI)
    other = dataclasses.replace(settings, client_id=other_id, client_secret=other_secret)
    token, nonce = issue_id_token(http, other)
    with pytest.raises(PermissionDenied) as info:
        rp.validate_id_token(token, nonce)
    assert info.value.code == "auth.oidc_wrong_audience"


def test_expired_token_from_the_provider(http: httpx.Client) -> None:
    # A second real provider whose tokens expired five minutes before they were issued (beyond the leeway).
    with mock_provider(token_lifetime=timedelta(minutes=-5)) as short_lived:
        client_id, secret = register_client(http, short_lived, REDIRECT_URI)
        rp = OIDCClient(OIDCSettings(short_lived, client_id, secret, REDIRECT_URI), http)
        login = rp.begin_login()
        callback = authorize(http, short_lived, login.authorization_url, "late-user", CITIZEN)
        with pytest.raises(PermissionDenied) as info:
            rp.complete_login(login, callback)
    assert info.value.code == "auth.oidc_expired"


def test_token_from_the_future_is_not_yet_valid(settings: OIDCSettings, http: httpx.Client) -> None:
    token, nonce = issue_id_token(http, settings)
    slow_clock = OIDCClient(settings, http, clock=lambda: time.time() - 600)
    with pytest.raises(PermissionDenied) as info:
        slow_clock.validate_id_token(token, nonce)
    assert info.value.code == "auth.oidc_not_yet_valid"


def test_at_hash_must_match_the_access_token(rp: OIDCClient, settings: OIDCSettings, http: httpx.Client) -> None:
    token, nonce = issue_id_token(http, settings)
    with pytest.raises(PermissionDenied) as info:
        rp.validate_id_token(token, nonce, access_token="some-other-access-token")
    assert info.value.code == "auth.oidc_at_hash_mismatch"


def test_token_signed_by_a_key_outside_the_jwks(rp: OIDCClient, settings: OIDCSettings) -> None:
    with KeyIssuer() as foreign:  # only used to make a key; the client still trusts the real provider's JWKS
        key = foreign.new_key(publish=False)
    claims = claims_for(settings, sub="admin")
    for kid, code in ((True, "auth.oidc_unknown_key"), (False, "auth.oidc_bad_signature")):
        with pytest.raises(PermissionDenied) as info:
            rp.validate_id_token(sign(claims, key, kid=kid), None)
        assert info.value.code == code


def test_none_and_hmac_algorithms_are_refused(rp: OIDCClient, settings: OIDCSettings, http: httpx.Client) -> None:
    payload = b64(json.dumps(claims_for(settings)).encode())
    none_header, hs256_header = b64(b'{"alg":"none","typ":"JWT"}'), b64(b'{"alg":"HS256","typ":"JWT"}')
    unsigned = f"{none_header}.{payload}."
    # The classic confusion: HMAC keyed with the provider's *public* key, which anyone can fetch.
    public_key = http.get(rp.metadata()["jwks_uri"]).content
    signing_input = f"{hs256_header}.{payload}"
    mac = b64(hmac.new(public_key, signing_input.encode(), hashlib.sha256).digest())
    for forged in (unsigned, f"{signing_input}.{mac}"):
        with pytest.raises(PermissionDenied) as info:
            rp.validate_id_token(forged, None)
        assert info.value.code == "auth.oidc_disallowed_algorithm"


def test_malformed_tokens(rp: OIDCClient) -> None:
    for token in ("not-a-jwt", "a.b.c", "e30.e30.e30.e30.e30"):
        with pytest.raises(PermissionDenied) as info:
            rp.validate_id_token(token, None)
        assert info.value.code == "auth.oidc_invalid_token"


# -- the provider itself ----------------------------------------------------------------------------------------


def test_discovery_naming_another_issuer(settings: OIDCSettings, http: httpx.Client) -> None:
    # The classic misconfiguration: a trailing slash the provider does not use.
    rp = OIDCClient(dataclasses.replace(settings, issuer=settings.issuer + "/"), http)
    with pytest.raises(NentangError) as info:
        rp.begin_login()
    assert info.value.code == "auth.oidc_wrong_issuer"
    assert settings.issuer in str(info.value)


def test_unreachable_provider(settings: OIDCSettings) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago and now has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rp = OIDCClient(dataclasses.replace(settings, issuer=f"http://127.0.0.1:{port}", http_timeout_seconds=2))
    with rp, pytest.raises(NentangError) as info:
        rp.begin_login()
    assert info.value.code == "auth.oidc_unreachable"
    assert f"127.0.0.1:{port}" in str(info.value)


def test_settings_are_checked_and_keep_the_secret_out_of_repr() -> None:
    for bad in (
        {"issuer": "http://idp.example.vn"},  # plain http off loopback
        {"scopes": ("email",)},
        {"client_id": ""},
    ):
        with pytest.raises(ValidationFailed) as info:
            OIDCSettings(**({"issuer": "https://idp.example.vn", "client_id": "c", "client_secret": "s3cr3t",
                             "redirect_uri": REDIRECT_URI} | bad))  # fmt: skip
        assert info.value.code == "auth.oidc_bad_settings"
    settings = OIDCSettings("https://idp.example.vn", "c", "s3cr3t", REDIRECT_URI)
    assert "s3cr3t" not in repr(settings)


# -- crafted tokens from a key-only issuer --------------------------------------------------------------------


@pytest.fixture
def key_issuer() -> Iterator[KeyIssuer]:
    with KeyIssuer() as keys:
        yield keys


def key_issuer_client(keys: KeyIssuer, **options: Any) -> OIDCClient:
    return OIDCClient(OIDCSettings(keys.url, "nentang", "secret", REDIRECT_URI, **options))


def test_key_rotation_refetches_the_jwks_once(key_issuer: KeyIssuer) -> None:
    first = key_issuer.new_key()
    with key_issuer_client(key_issuer, jwks_min_refresh_seconds=0) as rp:
        settings = rp.settings
        assert rp.validate_id_token(sign(claims_for(settings), first), None).subject == "x"
        rotated = key_issuer.new_key("EC")
        token = sign(claims_for(settings, sub="y"), rotated, "ES256")
        assert rp.validate_id_token(token, None).subject == "y"
        assert key_issuer.jwks_fetches == 2


def test_unknown_key_refetch_is_rate_limited(key_issuer: KeyIssuer) -> None:
    key_issuer.new_key()
    with key_issuer_client(key_issuer) as rp:  # default: at most one refetch a minute
        stranger = key_issuer.new_key(publish=False)
        for _ in range(3):
            with pytest.raises(PermissionDenied) as info:
                rp.validate_id_token(sign(claims_for(rp.settings), stranger), None)
            assert info.value.code == "auth.oidc_unknown_key"
        assert key_issuer.jwks_fetches == 1


def test_extra_audiences_need_trust_and_azp(key_issuer: KeyIssuer) -> None:
    key = key_issuer.new_key()
    with key_issuer_client(key_issuer, trusted_audiences=("lgsp-gateway",)) as rp:
        both = ["nentang", "lgsp-gateway"]
        assert rp.validate_id_token(sign(claims_for(rp.settings, aud=both, azp="nentang"), key), None)
        for claims in (
            claims_for(rp.settings, aud=["lgsp-gateway"], azp="nentang"),  # trusted, but not for this client
            claims_for(rp.settings, aud=both),  # several audiences and no azp
            claims_for(rp.settings, aud=both, azp="lgsp-gateway"),  # authorised for someone else
            claims_for(rp.settings, aud=[*both, "unknown-app"], azp="nentang"),  # an audience nobody trusts
        ):
            with pytest.raises(PermissionDenied) as info:
                rp.validate_id_token(sign(claims, key), None)
            assert info.value.code == "auth.oidc_wrong_audience"


def test_token_claiming_another_issuer(key_issuer: KeyIssuer) -> None:
    key = key_issuer.new_key()
    with key_issuer_client(key_issuer) as rp, pytest.raises(PermissionDenied) as info:
        rp.validate_id_token(sign(claims_for(rp.settings, iss="https://other-idp.example.vn"), key), None)
    assert info.value.code == "auth.oidc_token_wrong_issuer"


def test_token_without_a_subject(key_issuer: KeyIssuer) -> None:
    key = key_issuer.new_key()
    with key_issuer_client(key_issuer) as rp:
        claims = claims_for(rp.settings)
        del claims["sub"]
        with pytest.raises(PermissionDenied) as info:
            rp.validate_id_token(sign(claims, key), None)
    assert info.value.code == "auth.oidc_invalid_token" and "'sub'" in str(info.value)
