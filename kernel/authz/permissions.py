"""The kernel's own permissions and role templates. Plugins declare theirs the same way
(through their manifest, with the plugin lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final


@final
@dataclass(frozen=True, slots=True)
class PermissionSpec:
    name: str
    description: str


@final
@dataclass(frozen=True, slots=True)
class RoleTemplate:
    name: str
    description: str
    permissions: tuple[str, ...]


TENANTS_READ: Final = "kernel.tenants.read"
TENANTS_CREATE: Final = "kernel.tenants.create"
TENANTS_MANAGE: Final = "kernel.tenants.manage"
USERS_READ: Final = "kernel.users.read"
USERS_MANAGE: Final = "kernel.users.manage"
ROLES_MANAGE: Final = "kernel.roles.manage"
GRANTS_MANAGE: Final = "kernel.grants.manage"
TOKENS_MANAGE: Final = "kernel.tokens.manage"
AUDIT_READ: Final = "kernel.audit.read"
PLUGINS_MANAGE: Final = "kernel.plugins.manage"

KERNEL_PERMISSIONS: Final = (
    PermissionSpec(TENANTS_READ, "See tenants of the subtree and their details"),
    PermissionSpec(TENANTS_CREATE, "Provision units (tenants) below a tenant"),
    PermissionSpec(TENANTS_MANAGE, "Rename, move, suspend and reactivate tenants of the subtree"),
    PermissionSpec(USERS_READ, "See the users whose home is in the subtree"),
    PermissionSpec(USERS_MANAGE, "Create, edit and disable users whose home is in the subtree"),
    PermissionSpec(ROLES_MANAGE, "Create and edit custom roles in the subtree (only with permissions one holds)"),
    PermissionSpec(GRANTS_MANAGE, "Grant and revoke roles in the subtree (only roles within one's own permissions)"),
    PermissionSpec(TOKENS_MANAGE, "Create and revoke API tokens for integrators in the subtree"),
    PermissionSpec(AUDIT_READ, "Read the audit log of the subtree"),
    PermissionSpec(PLUGINS_MANAGE, "Enable, disable, allow, lock and configure plugins in the subtree"),
)

ADMIN_ROLE: Final = "admin"

KERNEL_ROLE_TEMPLATES: Final = (
    RoleTemplate(
        ADMIN_ROLE, "Administrator of a tenant and everything below it", tuple(p.name for p in KERNEL_PERMISSIONS)
    ),
    RoleTemplate(
        "auditor", "Reads tenants, users and the audit log of the subtree", (TENANTS_READ, USERS_READ, AUDIT_READ)
    ),
    RoleTemplate("viewer", "Sees the tenants of the subtree", (TENANTS_READ,)),
)
