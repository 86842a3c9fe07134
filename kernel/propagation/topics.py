"""The topics whose changes every worker must hear about."""

from typing import Final

#: Grants, roles, role permissions. Key: a principal ("user:12"), "role:<id>", or none.
AUTHZ: Final = "authz"
#: The tenant tree. Key: a tenant id whose row appeared or changed, or none (a move: a subtree).
TENANCY: Final = "tenancy"
#: Plugin activation, settings and quarantines. Key: a tenant id, or none (a subtree changed).
ACTIVATION: Final = "activation"
#: Credentials that stop being valid before they expire: a revoked API token. Key: "token:<id>".
IDENTITY: Final = "identity"
