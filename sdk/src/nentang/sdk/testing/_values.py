"""The values the kit's fixtures hand to a test, and the shapes of its factories.

Nothing here imports the kernel: a plugin's test module imports these names for its annotations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, final

from nentang.sdk.context import TenantRef

if TYPE_CHECKING:
    from nentang.sdk.testing._graphql import GraphQLClient

#: A tenant as the kit's helpers accept it: a :class:`TenantRef` (from ``nentang_tree``) or its code.
TenantLike = TenantRef | str


@final
@dataclass(frozen=True, slots=True)
class TenantTree:
    """The three-level tree every kit kernel starts with: TW → 01 → {00001, 00002}.

    ``commune`` is where ``@pytest.mark.nentang_plugins`` enables plugins by default;
    ``other_commune`` is its sibling, where nothing is enabled unless a test says so — the place to
    assert that a plugin stays silent and its rows stay out of sight.
    """

    #: ``TW``, the central level (the root).
    central: TenantRef
    #: ``01``, a province under the central level.
    province: TenantRef
    #: ``00001``, a commune of the province (the default tenant of the kit's helpers).
    commune: TenantRef
    #: ``00002``, the commune's sibling.
    other_commune: TenantRef

    def __iter__(self) -> Iterator[TenantRef]:
        return iter((self.central, self.province, self.commune, self.other_commune))

    def __getitem__(self, key: str) -> TenantRef:
        """A tenant by code (``tree["00001"]``) or by role in the tree (``tree["commune"]``)."""
        for tenant in self:
            if key == tenant.code:
                return tenant
        if key in ("central", "province", "commune", "other_commune"):
            tenant_ref: TenantRef = getattr(self, key)
            return tenant_ref
        raise KeyError(f"no tenant {key!r} in the kit's tree: use a code (TW, 01, 00001, 00002) or a level name")


@final
@dataclass(frozen=True, slots=True)
class ActingUser:
    """A user made by ``nentang_user``: who they are, where they live, what they were granted."""

    id: int
    username: str
    #: The principal permission checks see (``user:<id>``); ``ctx.actor`` when they act.
    principal: str
    #: Their home tenant.
    home: TenantRef
    #: (role, tenant code) of every grant the factory made.
    grants: tuple[tuple[str, str], ...] = ()
    #: Their password, when the factory was given one (for tests of sign-in); else ``None``.
    password: str | None = None


class MakeUser(Protocol):
    """The ``nentang_user`` factory: ``nentang_user("forms.clerk")`` → a clerk at the commune."""

    def __call__(
        self,
        *roles: str,
        tenant: TenantLike | None = None,
        at: TenantLike | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> ActingUser:
        """Create a user whose home is ``tenant`` (default: the tree's commune) and grant each role
        at ``at`` (default: the home tenant). Roles are kernel roles (``admin``, ``viewer``) or
        role templates of installed plugins (``forms.clerk``)."""
        ...


class EnablePlugin(Protocol):
    """The ``nentang_enable`` factory: enable a plugin for a tenant, as an operator would."""

    def __call__(
        self,
        plugin: str,
        tenant: TenantLike | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        with_dependencies: bool = True,
    ) -> None:
        """Enable ``plugin`` at ``tenant`` (default: the tree's commune) with ``settings``; its
        ``nentang_plugin_enable`` hook runs as in production. Raises the kernel's refusal as is."""
        ...


class MakeGraphQLClient(Protocol):
    """The ``nentang_graphql`` factory: a GraphQL client acting as a user in a tenant."""

    def __call__(self, user: ActingUser | None = None, tenant: TenantLike | None = None) -> GraphQLClient:
        """A client that posts to the app's ``/graphql`` signed in as ``user`` (``None``:
        anonymous) with ``X-Tenant`` naming ``tenant`` (default: the user's home, else the commune)."""
        ...


__all__ = ["ActingUser", "EnablePlugin", "MakeGraphQLClient", "MakeUser", "TenantLike", "TenantTree"]
