"""Identity settings: password cost, login throttling, web-session lifetimes, the session cookie,
and the OpenID Connect issuer (``None``: OIDC sign-in is off).

One frozen value, held by :class:`~nentang.kernel.settings.Settings` as ``settings.identity``, so a
test passes cheap password hashing or short timeouts to its own kernel without touching a global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, final

from nentang.kernel.identity.oidc_settings import OIDCSettings
from nentang.kernel.identity.passwords import HashParameters
from nentang.sdk.errors import ValidationFailed

SESSION_COOKIE_NAME: Final = "nentang_session"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
#: The variables that configure OIDC sign-in, each with the :class:`OIDCSettings` field it fills.
OIDC_ENVIRON: Final = {
    "NENTANG_OIDC_ISSUER": "issuer",
    "NENTANG_OIDC_CLIENT_ID": "client_id",
    "NENTANG_OIDC_CLIENT_SECRET": "client_secret",
    "NENTANG_OIDC_REDIRECT_URI": "redirect_uri",
}


@final
@dataclass(frozen=True, slots=True)
class IdentitySettings:
    #: Cost of each argon2id hash; tests pass a cheap one.
    password_hashing: HashParameters = field(default_factory=HashParameters)
    #: Failed sign-ins for one username from one address within ``login_window`` before that
    #: name is locked from that address (``kernel/identity/login_throttle.py`` has the four counters).
    login_max_failures: int = 5
    #: How far back failures count.
    login_window: timedelta = timedelta(minutes=15)
    #: How long a locked name (at an address) or address refuses every attempt, unchecked.
    login_lockout: timedelta = timedelta(minutes=15)
    #: Failed sign-ins from one address, whatever the names, before the address is locked.
    login_address_max_failures: int = 30
    #: Failed sign-ins for one username from all addresses before the name is slowed...
    login_name_max_failures: int = 20
    #: ...to one attempt per this long (slowed, never locked: the real user only waits).
    login_slow_interval: timedelta = timedelta(seconds=10)
    #: Failed sign-ins platform-wide within the window before the address and name limits tighten.
    login_overall_max_failures: int = 1000
    #: A web session ends after this long without a request.
    session_idle_timeout: timedelta = timedelta(minutes=30)
    #: ...and in any case this long after sign-in.
    session_lifetime: timedelta = timedelta(hours=12)
    #: The cookie that carries the web session's secret.
    session_cookie_name: str = SESSION_COOKIE_NAME
    #: ``True`` (the default): the session cookie is always ``Secure``. ``False``: it is sent
    #: without ``Secure`` only on a plain-http request to a loopback host (the embedded demo);
    #: any other request still gets ``Secure``.
    session_cookie_secure: bool = True
    #: How often at most a session's ``last_seen_at`` or a token's ``last_used_at`` is written,
    #: so that a busy client does not cost one write per request.
    touch_interval: timedelta = timedelta(minutes=1)
    #: The identity provider for OIDC sign-in (``/auth/oidc/start``); ``None`` turns it off. Its
    #: ``repr`` leaves the client secret out, so this value is safe to log.
    oidc: OIDCSettings | None = None

    def __post_init__(self) -> None:
        for limit in ("max", "address_max", "name_max", "overall_max"):
            if getattr(self, f"login_{limit}_failures") < 1:
                raise ValidationFailed(f"login_{limit}_failures must be at least 1")
        if self.session_idle_timeout > self.session_lifetime:
            raise ValidationFailed("session_idle_timeout cannot be longer than session_lifetime")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> IdentitySettings:
        """The few identity settings an operator sets through ``NENTANG_*`` variables."""
        raw = environ.get("NENTANG_SESSION_COOKIE_SECURE", "true").strip().lower()
        if raw not in _TRUE | _FALSE:
            raise ValidationFailed(f"NENTANG_SESSION_COOKIE_SECURE must be 'true' or 'false', not {raw!r}")
        return cls(session_cookie_secure=raw in _TRUE, oidc=_oidc_from_environ(environ))


def _oidc_from_environ(environ: Mapping[str, str]) -> OIDCSettings | None:
    """All four ``NENTANG_OIDC_*`` variables set: OIDC on; none set: off; some: an error naming the rest."""
    # Whitespace around a URL or id is a copy-and-paste accident; a secret is taken exactly as given.
    values = {
        field_name: raw if field_name == "client_secret" else raw.strip()
        for name, field_name in OIDC_ENVIRON.items()
        for raw in (environ.get(name, ""),)
    }
    missing = [name for name, field_name in OIDC_ENVIRON.items() if not values[field_name].strip()]
    if len(missing) == len(OIDC_ENVIRON):
        return None
    if missing:
        raise ValidationFailed(
            f"OIDC sign-in is half configured: set {', '.join(missing)} too (or unset every NENTANG_OIDC_* variable)",
            code="auth.oidc_bad_settings",
        )
    return OIDCSettings(**values)
