"""Users over GraphQL: read them, page through a tenant's (or a subtree's), create them, reset a
password, disable and enable them, link them to an identity provider's account.

Everything ``nentang user`` does except granting roles (the roles module's). Authorisation, checked
before anything changes or is validated:

- ``user`` and ``users`` need ``kernel.users.read`` at the user's home tenant, or at the tenant
  listed (a grant at an ancestor counts): a province administrator sees the users of its province
  and of its communes, never those of another province;
- every mutation needs ``kernel.users.manage`` at the user's home tenant. The resolver checks it
  from the authoriser's cache first (so a caller without it learns nothing from validation), then
  the user service checks it again inside the transaction of the write, fresh from the database, so
  a revoke that committed a moment earlier is honoured.

Passwords follow the command line's policy: a password given is checked against the password
policy; one the server generates (``generatePassword: true``) is returned once, in the mutation's
payload, and stored only as a hash. Without either a new user signs in only through OIDC.

A user's ``homeTenant`` goes through the request's tenant DataLoader: a page of users costs one
tenant statement however many users it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum

import strawberry

from nentang.kernel.authz.permissions import USERS_MANAGE, USERS_READ
from nentang.kernel.graphql.context import GraphQLContext
from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import tenant_data as data
from nentang.kernel.graphql.modules.tenants import Tenant
from nentang.kernel.graphql.pagination import Connection, connection, decode_cursor, encode_cursor
from nentang.kernel.identity import bootstrap
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.identity.users import unknown_user
from nentang.sdk.errors import ValidationFailed


@strawberry.enum(name="UserStatus", description="Whether a user may sign in.")
class UserStatusValue(Enum):
    ACTIVE = "active"
    DISABLED = "disabled"


@strawberry.type(description="The account at an identity provider (OIDC) a user signs in with.")
class OidcLink:
    issuer: str = strawberry.field(description="The provider's issuer URL, exactly as it publishes it.")
    subject: str = strawberry.field(description="The person's `sub` at that provider.")


@strawberry.type(description="A person who signs in: an officer, an administrator, a citizen-facing clerk.")
class User:
    id: int
    username: str = strawberry.field(description="The lower-case login name, unique in the platform.")
    display_name: str
    email: str | None
    status: UserStatusValue = strawberry.field(description="DISABLED: no sign-in, and no open web session.")
    has_password: bool = strawberry.field(
        description="Whether the user may sign in with a local password (false: through OIDC only)."
    )
    oidc: OidcLink | None = strawberry.field(description="The linked identity-provider account, if any.")
    created_at: datetime
    last_login_at: datetime | None
    info: strawberry.Private[UserInfo]

    @classmethod
    def of(cls, info: UserInfo) -> User:
        linked = info.oidc_issuer is not None and info.oidc_subject is not None
        return cls(
            id=info.id,
            username=info.username,
            display_name=info.display_name,
            email=info.email,
            status=UserStatusValue(info.status),
            has_password=info.has_password,
            oidc=OidcLink(issuer=info.oidc_issuer or "", subject=info.oidc_subject or "") if linked else None,
            created_at=info.created_at,
            last_login_at=info.last_login_at,
            info=info,
        )

    @strawberry.field(description="The tenant the user belongs to (roles may let it act elsewhere too).")
    async def home_tenant(self, info: strawberry.Info[GraphQLContext, None]) -> Tenant:
        found = await info.context.loader(data.TENANT_BY_ID).load(self.info.home_tenant_id)
        if found is None:  # the foreign key forbids it; say so rather than return a wrong tenant
            raise RuntimeError(f"user {self.info.username!r} has no home tenant {self.info.home_tenant_id}")
        return Tenant.of(found)


@strawberry.type
class UserQueries:
    @strawberry.field(description="One user by username.")
    async def user(self, info: strawberry.Info[GraphQLContext, None], username: str) -> User | None:
        ctx = info.context

        def read() -> UserInfo:
            ctx.signed_in()
            found = ctx.kernel.users.get(username)
            if not ctx.check(USERS_READ, found.home_tenant_id):
                # exactly the answer for a name nobody holds: no probing which usernames exist elsewhere
                raise unknown_user(username)
            return found

        return User.of(await ctx.run_sync(read))

    @strawberry.field(
        description=(
            "Users by username: those homed at `tenant` (default: the tenant of this request), or with "
            "`subtree: true` those homed at it or anywhere below it."
        )
    )
    async def users(
        self,
        info: strawberry.Info[GraphQLContext, None],
        first: int,
        after: str | None = None,
        tenant: str | None = None,
        subtree: bool = False,
    ) -> Connection[User]:
        ctx = info.context
        home = await data.tenant_where_allowed(ctx, tenant, USERS_READ)
        first = ctx.page_size(first)
        key = decode_cursor(after, str)
        rows = await ctx.run_sync(
            ctx.kernel.users.list,
            home_tenant_code=home.code,
            subtree=subtree,
            limit=first + 1,
            after=key[0] if key else "",
        )
        return connection(rows, first, _cursor, User.of)


@strawberry.input(description="A new user.")
class CreateUserInput:
    username: str = strawberry.field(
        description="3-64 characters: a-z, 0-9, '.', '_', '-'; starting with a letter or digit."
    )
    display_name: str
    home_tenant: str = strawberry.field(description="The official code of the tenant the user belongs to.")
    email: str | None = None
    password: str | None = strawberry.field(
        default=None, description="An initial password (at least 12 characters, not the username)."
    )
    generate_password: bool = strawberry.field(
        default=False,
        description="Let the server generate the password and return it once in the payload. Without a password "
        "and without this, the user signs in through OIDC only.",
    )


@strawberry.type(description="A user just created or given a new password.")
class UserPayload:
    user: User
    generated_password: str | None = strawberry.field(
        description="The password the server generated, shown this once and stored only as a hash; null when "
        "none was generated."
    )


@strawberry.type
class UserMutations:
    @strawberry.mutation(description="Create a user homed at a tenant.")
    async def create_user(
        self, info: strawberry.Info[GraphQLContext, None], input: CreateUserInput
    ) -> UserPayload | None:
        ctx = info.context
        home = await data.tenant_where_allowed(ctx, input.home_tenant, USERS_MANAGE)
        password, generated = _password(input.password, input.generate_password)

        def create() -> UserInfo:
            return ctx.kernel.users.create_user(
                ctx.caller.actor,
                username=input.username,
                display_name=input.display_name,
                home_tenant_code=home.code,
                password=password,
                email=input.email,
            )

        return UserPayload(user=User.of(await ctx.run_sync(create)), generated_password=generated)

    @strawberry.mutation(description="Set a user's password (an administrator's reset); its web sessions end.")
    async def set_user_password(
        self,
        info: strawberry.Info[GraphQLContext, None],
        username: str,
        password: str | None = None,
        generate_password: bool = False,
    ) -> UserPayload | None:
        ctx = info.context
        generated: str | None = None

        def reset(actor: Actor) -> UserInfo:
            nonlocal generated
            new, generated = _password(password, generate_password)
            if new is None:
                raise ValidationFailed("give a password, or generatePassword: true", code="user.password_choice")
            return ctx.kernel.users.set_password(actor, username, new)

        changed = await _manage(ctx, username, "user.set_password", reset)
        return UserPayload(user=changed, generated_password=generated)

    @strawberry.mutation(description="Disable a user: no more sign-ins, and every open web session ends now.")
    async def disable_user(
        self, info: strawberry.Info[GraphQLContext, None], username: str, reason: str = ""
    ) -> User | None:
        ctx = info.context
        return await _manage(
            ctx, username, "user.disable", lambda actor: ctx.kernel.users.disable(actor, username, reason=reason)
        )

    @strawberry.mutation(description="Let a disabled user sign in again.")
    async def enable_user(self, info: strawberry.Info[GraphQLContext, None], username: str) -> User | None:
        ctx = info.context
        return await _manage(ctx, username, "user.enable", lambda actor: ctx.kernel.users.enable(actor, username))

    @strawberry.mutation(
        description="Let a user sign in through the identity provider as `subject` of `issuer` (replaces any link)."
    )
    async def link_oidc_account(
        self, info: strawberry.Info[GraphQLContext, None], username: str, issuer: str, subject: str
    ) -> User | None:
        ctx = info.context

        def link(actor: Actor) -> UserInfo:
            return ctx.kernel.users.link_oidc(actor, username, issuer=issuer, subject=subject)

        return await _manage(ctx, username, "user.link_oidc", link)


async def _manage(ctx: GraphQLContext, username: str, attempted: str, change: Callable[[Actor], UserInfo]) -> User:
    """Run ``change`` on an existing user once the caller is known to manage it (from the cache; the
    service checks again inside its transaction)."""

    def run() -> UserInfo:
        actor = ctx.signed_in()
        target = ctx.kernel.users.get(username)
        if not sees_user(ctx, target.home_tenant_id):
            # A user one may not even see is answered like a name nobody holds; the attempt is still
            # a security event for the user's tenant and the actor's.
            ctx.kernel.users.audit_out_of_reach(actor, target, attempted)
            raise unknown_user(username)
        ctx.require(USERS_MANAGE, target.home_tenant_id)
        return change(actor)

    return User.of(await ctx.run_sync(run))


def sees_user(ctx: GraphQLContext, home_tenant_id: int) -> bool:
    """Whether the caller may see a user homed at the tenant (``kernel.users.read`` or ``.manage``
    there, from the authoriser's cache). A user it may not see is answered like a name nobody holds."""
    return ctx.check(USERS_READ, home_tenant_id) or ctx.check(USERS_MANAGE, home_tenant_id)


def _password(given: str | None, generate: bool) -> tuple[str | None, str | None]:
    """(the password to set, the generated one to show once): the command line's choices — a
    password given (the service checks it against the policy), one generated, or none."""
    if given is not None and generate:
        raise ValidationFailed("give a password or ask to generate one, not both", code="user.password_choice")
    if generate:
        made = bootstrap.generate_password()
        return made, made
    return given, None


def _cursor(user: UserInfo) -> str:
    return encode_cursor(user.username)


MODULE = KernelModule("users", queries=(UserQueries,), mutations=(UserMutations,))
