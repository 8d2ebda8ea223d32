"""/api/service-principals: applications that sign in with a client id and secret."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import Field, StrictInt

from cargohold.core.identity_common import IdentityView
from cargohold.core.service_principals import MAX_SECRET_YEARS

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["service principals"])


class Credential(models.Response):
    name: str
    created_at: datetime
    expiry: datetime | None


class ServicePrincipal(models.Response):
    client_id: str
    name: str
    enabled: bool
    created_at: datetime
    credentials: list[Credential]


class ServicePrincipalWithSecret(ServicePrincipal):
    client_secret: str = Field(description="shown in this response only")


class ServicePrincipalCreate(models.Request):
    name: str = Field(description="display name, 1-255 printable characters")
    years: StrictInt = Field(default=1, description=f"secret lifetime in years, 1-{MAX_SECRET_YEARS}")


class SecretReset(models.Request):
    years: StrictInt = Field(default=1, description=f"secret lifetime in years, 1-{MAX_SECRET_YEARS}")


def service_principal(view: IdentityView) -> ServicePrincipal:
    i = view.identity
    return ServicePrincipal(client_id=i.name, name=i.description, enabled=i.enabled, created_at=i.created_at,
                            credentials=[Credential(name=s.name, created_at=s.created_at, expiry=s.expires_at)
                                         for s in view.secrets])


def _with_secret(view: IdentityView) -> ServicePrincipalWithSecret:
    return ServicePrincipalWithSecret(**service_principal(view).model_dump(), client_secret=view.new_secret or "")


@router.get("/service-principals", response_model=list[ServicePrincipal], summary="List service principals")
def list_service_principals(context: Context = Depends(reader)) -> list[ServicePrincipal]:
    return [service_principal(v) for v in context.identities.service_principals.list(context.registry.id)]


@router.post("/service-principals", response_model=ServicePrincipalWithSecret, status_code=201,
             summary="Create a service principal (the secret is in this response only)")
def create_service_principal(body: ServicePrincipalCreate,
                             context: Context = Depends(writer)) -> ServicePrincipalWithSecret:
    return _with_secret(context.identities.service_principals.create(context.registry.id, body.name, body.years))


@router.get("/service-principals/{client_id}", response_model=ServicePrincipal,
            summary="Show a service principal")
def get_service_principal(client_id: str, context: Context = Depends(reader)) -> ServicePrincipal:
    return service_principal(context.identities.service_principals.get(context.registry.id, client_id))


@router.post("/service-principals/{client_id}/credentials/reset", response_model=ServicePrincipalWithSecret,
             summary="Replace the secret (the old one stops working; the new one is in this response only)")
def reset_secret(client_id: str, body: SecretReset | None = None,
                 context: Context = Depends(writer)) -> ServicePrincipalWithSecret:
    years = body.years if body is not None else 1
    return _with_secret(context.identities.service_principals.reset_secret(context.registry.id, client_id, years))


@router.delete("/service-principals/{client_id}", status_code=204, response_class=Response,
               summary="Delete a service principal")
def delete_service_principal(client_id: str, context: Context = Depends(writer)) -> Response:
    context.identities.service_principals.delete(context.registry.id, client_id)
    return Response(status_code=204)
