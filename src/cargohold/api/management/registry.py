"""GET/PATCH /api/registry: the registry and its switches (admin user, anonymous pull)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import StrictBool

from cargohold.core.identity_common import IdentityView
from cargohold.core.ports.records import RegistrySettings

from . import models
from .admin_credentials import AdminCredentials, admin_credentials
from .deps import Context, reader, writer

router = APIRouter(tags=["registry"])


class RegistryBasics(models.Response):
    """What both the registry's own view and the operator's registry resource show first."""

    name: str
    login_server: str
    sku: str
    admin_user_enabled: bool
    anonymous_pull_enabled: bool


class RegistryInfo(RegistryBasics):
    created_at: datetime


class RegistryUpdated(RegistryInfo):
    admin_credentials: AdminCredentials | None = models.shown_once(
        "only when this request enabled the admin user for the first time: its username and both passwords")


class RegistryUpdate(models.Request):
    admin_user_enabled: StrictBool | None = None
    anonymous_pull_enabled: StrictBool | None = None


def _info(context: Context, settings: RegistrySettings, created: IdentityView | None = None) -> RegistryUpdated:
    r = context.registry
    return RegistryUpdated(
        name=r.name, login_server=r.login_server, sku=settings.sku, admin_user_enabled=settings.admin_enabled,
        anonymous_pull_enabled=settings.anonymous_pull_enabled,
        created_at=context.identities.admin.registry_created_at(r.id),
        admin_credentials=admin_credentials(created) if created else None)


@router.get("/registry", response_model=RegistryInfo, summary="Show the registry")
def get_registry(context: Context = Depends(reader)) -> RegistryUpdated:
    return _info(context, context.identities.admin.settings(context.registry.id))


@router.patch("/registry", response_model=RegistryUpdated, summary="Change the registry's switches")
def update_registry(body: RegistryUpdate, context: Context = Depends(writer)) -> RegistryUpdated:
    settings, created = context.identities.admin.update_settings(
        context.registry, admin_user_enabled=body.admin_user_enabled,
        anonymous_pull_enabled=body.anonymous_pull_enabled)
    return _info(context, settings, created)
