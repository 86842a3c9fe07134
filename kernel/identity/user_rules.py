"""What makes a user's fields acceptable, and the answers the user service gives when they are not.

Kept apart from ``users.py`` (the acts) so that the rules a username, a display name, an e-mail
address or an OIDC account must follow can be read in one place.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from nentang.sdk.errors import Conflict, NotFound, ValidationFailed

#: Lower-case letters, digits, ".", "_" and "-"; 3-64 characters; starting with a letter or digit
#: (so a name never reads as a command-line option).
USERNAME_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def check_username(username: str) -> str:
    """The username if it follows the rules; otherwise a ValidationFailed that says which."""
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username):
        raise ValidationFailed(
            f"username {username!r} is not valid: 3-64 characters, lower-case letters a-z, digits, '.', '_' "
            "or '-', starting with a letter or digit",
            code="user.bad_username",
        )
    return username


def taken(username: str) -> Conflict:
    return Conflict(f"a user named {username!r} already exists; usernames are unique", code="user.taken")


def unavailable(username: str) -> Conflict:
    """A taken name the actor may not see the holder of: refused without saying that someone holds
    it (usernames are unique platform-wide, so the name cannot be used either way)."""
    return Conflict(f"the username {username!r} is not available; choose another", code="user.unavailable")


def unknown_user(username: str) -> NotFound:
    """The answer for a name nobody holds — and for a user the caller may not see (no oracle)."""
    return NotFound(f"no user named {username!r}", code="user.not_found")


def oidc_taken(issuer: str) -> Conflict:
    return Conflict(
        f"that account of {issuer!r} is already linked to another user; an account signs in as one user only",
        code="user.oidc_taken",
    )


def check_oidc_account(issuer: str, subject: str) -> tuple[str, str]:
    """The issuer URL (as the provider publishes it, exactly) and subject, if both are usable."""
    issuer = (issuer or "").strip()
    parts = urlsplit(issuer)
    if len(issuer) > 255 or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed(
            f"OIDC issuer {issuer[:80]!r} is not valid: an http(s) URL of at most 255 characters, exactly as the "
            "provider's discovery document names it",
            code="user.bad_oidc_issuer",
        )
    if not isinstance(subject, str) or not 0 < len(subject) <= 255 or not subject.isprintable():
        raise ValidationFailed(
            "OIDC subject must be 1-255 printable characters, exactly as the provider's 'sub' claim",
            code="user.bad_oidc_subject",
        )
    return issuer, subject


def check_display_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ValidationFailed("display name must be 1-255 characters", code="user.bad_display_name")
    return name


def check_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 255 or any(c.isspace() for c in email):
        raise ValidationFailed(f"e-mail address {email!r} is not valid", code="user.bad_email")
    return email
