"""Who is calling: the one value the HTTP layer (and later GraphQL) hands to everything downstream.

Why a type of its own: routes must not re-derive identity from headers and cookies, and must not
confuse the ways a caller can be known. A browser user (``session``) carries an ambient credential
(the cookie), so its unsafe requests need the session's CSRF token; an integrator (``token``)
presents its credential explicitly and is bound to the token's tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, final

from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.sessions import ActiveSession
from nentang.kernel.identity.tokens import TokenInfo
from nentang.kernel.identity.user_info import UserInfo

AuthMethod = Literal["anonymous", "session", "token"]
ANONYMOUS_PRINCIPAL: Final = "anonymous"


@final
@dataclass(frozen=True, slots=True)
class Caller:
    #: The authorisation principal: ``user:<id>``, ``token:<id>`` or ``anonymous``.
    principal: str
    #: How the caller proved who it is.
    method: AuthMethod
    #: The signed-in user (``session``), else ``None``.
    user: UserInfo | None = None
    #: The API token (``token``), else ``None``.
    token: TokenInfo | None = None
    #: The web session (``session``), with its CSRF token, else ``None``.
    session: ActiveSession | None = None

    @property
    def authenticated(self) -> bool:
        return self.method != "anonymous"

    @property
    def tenant_id(self) -> int | None:
        """The tenant a token is bound to; ``None`` for users (who act wherever they hold roles)."""
        return self.token.tenant_id if self.token is not None else None

    @property
    def actor(self) -> Actor:
        """The audit actor for acts of this caller (the same string as the principal)."""
        if self.user is not None:
            return self.user.actor
        if self.token is not None:
            return self.token.actor
        return Actor.system(ANONYMOUS_PRINCIPAL)

    @classmethod
    def anonymous(cls) -> Caller:
        return cls(principal=ANONYMOUS_PRINCIPAL, method="anonymous")

    @classmethod
    def of_session(cls, active: ActiveSession) -> Caller:
        return cls(principal=active.user.principal, method="session", user=active.user, session=active)

    @classmethod
    def of_token(cls, token: TokenInfo) -> Caller:
        return cls(principal=token.principal, method="token", token=token)
