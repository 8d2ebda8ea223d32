"""/api/registry/credentials: the registry admin user (`az acr credential show|renew`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends

from cargohold.core.identity_common import IdentityView

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["registry"])


class AdminCredentials(models.Response):
    username: str
    passwords: list[models.Secret]


class Regenerate(models.Request):
    name: Literal["password", "password2"]


def admin_credentials(view: IdentityView) -> AdminCredentials:
    return AdminCredentials(username=view.identity.name, passwords=models.secrets(view))


@router.get("/registry/credentials", response_model=AdminCredentials,
            summary="Show the admin user's username and password names (409 when disabled)")
def show(context: Context = Depends(reader)) -> AdminCredentials:
    return admin_credentials(context.identities.admin.credentials(context.registry))


@router.post("/registry/credentials/regenerate", response_model=AdminCredentials,
             summary="Regenerate one admin password (the old value stops working)")
def regenerate(body: Regenerate, context: Context = Depends(writer)) -> AdminCredentials:
    return admin_credentials(context.identities.admin.regenerate_password(context.registry, body.name))
