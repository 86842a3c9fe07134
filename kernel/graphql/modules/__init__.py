"""The kernel's schema, module by module.

To add an area (users, roles, grants, tokens, plugins, audit...): write ``modules/<area>.py`` with
its strawberry types, one class of query fields and one of mutation fields, its DataLoaders
(:class:`~nentang.kernel.graphql.context.LoaderSpec`) and a ``MODULE = KernelModule(...)`` at the
end — see ``tenants.py`` — then add ``<area>.MODULE`` to :data:`KERNEL_MODULES` below. Then run
``nentang graphql schema > docs/graphql/kernel.graphql`` and commit the new SDL.

Conventions: lists take ``first: int`` and ``after: str | None = None`` and return
``Connection[X]`` (``pagination.py``), or declare a bound with ``graphql_metadata(max_items=N)``;
resolvers check permissions with ``info.context.require(...)`` before anything else; blocking work
goes through ``ctx.run_sync`` or a DataLoader; a mutation's failure raises a
:class:`~nentang.sdk.errors.NentangError`, whose code the caller sees.
"""

from __future__ import annotations

from typing import Final

from nentang.kernel.graphql.module import KernelModule
from nentang.kernel.graphql.modules import audit, grants, me, plugins, roles, tenants, tokens, users

KERNEL_MODULES: Final[tuple[KernelModule, ...]] = (
    me.MODULE,
    tenants.MODULE,
    roles.MODULE,
    grants.MODULE,
    plugins.MODULE,
    audit.MODULE,
    users.MODULE,
    tokens.MODULE,
)
