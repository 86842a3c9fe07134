"""The tenant tree: central → province → commune → unit, of any depth."""

from nentang.kernel.tenancy.models import Tenant, TenantKind, TenantStatus
from nentang.kernel.tenancy.service import TenantInfo, TenantService

__all__ = ["Tenant", "TenantInfo", "TenantKind", "TenantService", "TenantStatus"]
