"""/api/workload-identities: identities without secrets that sign in with federated OIDC tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from cargohold.core.federation import DEFAULT_AUDIENCE
from cargohold.core.ports.records import FederatedCredential as FederatedRecord
from cargohold.core.ports.records import Identity

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["workload identities"])
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class FederatedCredential(models.Response):
    name: str
    issuer: str
    subject: str
    audiences: list[str]
    created_at: datetime


class WorkloadIdentity(models.Response):
    name: str
    description: str
    enabled: bool
    created_at: datetime
    federated_credentials: list[FederatedCredential]


class WorkloadIdentityCreate(models.Request):
    name: str = Field(description="3-128 letters, digits, '-' or '_', starting with a letter or digit")
    description: str = Field(default="", max_length=255, pattern=PRINTABLE)


class FederatedCredentialCreate(models.Request):
    name: str = Field(description="3-64 letters, digits, '-' or '_', starting with a letter or digit")
    issuer: str = Field(max_length=512, pattern=PRINTABLE, description="the OIDC issuer URL (https)")
    subject: str = Field(max_length=512, pattern=PRINTABLE, description="the `sub` the workload's tokens carry")
    audiences: list[str] = Field(default_factory=lambda: [DEFAULT_AUDIENCE], min_length=1, max_length=1,
                                 description="exactly one accepted `aud` value (as in Azure)")


def federated(record: FederatedRecord) -> FederatedCredential:
    return FederatedCredential(name=record.name, issuer=record.issuer, subject=record.subject,
                               audiences=[record.audience], created_at=record.created_at)


def workload(identity: Identity, credentials: list[FederatedRecord]) -> WorkloadIdentity:
    return WorkloadIdentity(name=identity.name, description=identity.description, enabled=identity.enabled,
                            created_at=identity.created_at, federated_credentials=[federated(c) for c in credentials])


@router.get("/workload-identities", response_model=list[WorkloadIdentity], summary="List workload identities")
def list_workloads(context: Context = Depends(reader)) -> list[WorkloadIdentity]:
    return [workload(i, creds) for i, creds in context.identities.workloads.list(context.registry.id)]


@router.post("/workload-identities", response_model=WorkloadIdentity, status_code=201,
             summary="Create a workload identity (then add a federated credential and a role assignment)")
def create_workload(body: WorkloadIdentityCreate, context: Context = Depends(writer)) -> WorkloadIdentity:
    return workload(context.identities.workloads.create(context.registry.id, body.name, body.description), [])


@router.get("/workload-identities/{name}", response_model=WorkloadIdentity, summary="Show a workload identity")
def get_workload(name: str, context: Context = Depends(reader)) -> WorkloadIdentity:
    identity = context.identities.workloads.get(context.registry.id, name)
    return workload(identity, context.identities.workloads.list_federated_credentials(identity.id))


@router.delete("/workload-identities/{name}", status_code=204, response_class=Response,
               summary="Delete a workload identity, its federated credentials and its role assignments")
def delete_workload(name: str, context: Context = Depends(writer)) -> Response:
    context.identities.workloads.delete(context.registry.id, name)
    return Response(status_code=204)


@router.post("/workload-identities/{name}/federated-credentials", response_model=FederatedCredential,
             status_code=201, summary="Trust an OIDC issuer's tokens for one subject")
def add_federated_credential(name: str, body: FederatedCredentialCreate,
                             context: Context = Depends(writer)) -> FederatedCredential:
    workloads = context.identities.workloads
    identity = workloads.get(context.registry.id, name)
    return federated(workloads.add_federated_credential(identity.id, body.name, body.issuer, body.subject,
                                                        body.audiences[0]))


@router.delete("/workload-identities/{name}/federated-credentials/{credential}", status_code=204,
               response_class=Response, summary="Delete a federated credential")
def delete_federated_credential(name: str, credential: str, context: Context = Depends(writer)) -> Response:
    context.identities.workloads.remove_federated_credential(context.registry.id, name, credential)
    return Response(status_code=204)
