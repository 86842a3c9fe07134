"""Plugin state as data: activation per tenant, allow/lock policies down the tree, quarantines."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from nentang.kernel.tenancy.models import utcnow
from nentang.sdk.tables import TenantOwned

TIMESTAMP = sa.DateTime(timezone=True)


class PluginActivation(TenantOwned, table=True):
    """Whether a plugin is enabled for a tenant, with that tenant's settings for it."""

    __tablename__ = "kernel_plugin_activation"

    plugin: str = Field(primary_key=True, max_length=40)
    enabled: bool = False
    #: Canonical JSON of the settings, validated against the plugin's schema.
    settings: str = Field(default="{}", sa_type=sa.Text)
    #: The plugin version that was installed when it was last enabled.
    version: str = Field(default="", max_length=64)
    #: The tenant whose lock keeps it on here (``None``: not locked).
    locked_by: int | None = Field(default=None)
    updated_by: str = Field(max_length=128)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)


class PluginPolicy(SQLModel, table=True):
    """A tenant's rule for a plugin in the tenants *below* it (a province for its communes)."""

    __tablename__ = "kernel_plugin_policy"

    tenant_id: int = Field(primary_key=True, foreign_key="kernel_tenant.id")
    plugin: str = Field(primary_key=True, max_length=40)
    #: ``False``: tenants below may not enable it.
    allowed: bool = True
    #: ``True``: enabled in every tenant below, which may not disable it.
    locked: bool = False
    updated_by: str = Field(max_length=128)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)


class PluginQuarantine(SQLModel, table=True):
    """A plugin taken out of service for one tenant (its hooks kept failing there)."""

    __tablename__ = "kernel_plugin_quarantine"

    tenant_id: int = Field(primary_key=True, foreign_key="kernel_tenant.id")
    plugin: str = Field(primary_key=True, max_length=40)
    reason: str = Field(sa_type=sa.Text)
    quarantined_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)
