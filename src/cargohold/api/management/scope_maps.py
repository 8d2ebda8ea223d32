"""/api/scope-maps: which repositories a repository token may reach, in ACR's action syntax."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from cargohold.core.ports.records import ScopeMap as ScopeMapRecord
from cargohold.core.scope_maps import format_action

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["scope maps"])
ACTION_HELP = "ACR action syntax: repositories/<name, prefix/* or *>/<content|metadata>/<read|write|delete>"


class ScopeMap(models.Response):
    name: str
    description: str
    type: Literal["SystemDefined", "UserDefined"]
    actions: list[str] = Field(description=ACTION_HELP)
    created_at: datetime
    updated_at: datetime


class ScopeMapCreate(models.Request):
    name: str = Field(description="5-64 letters, digits or '-'")
    description: str = ""
    actions: list[str] = Field(description=ACTION_HELP)


class ScopeMapUpdate(models.Request):
    description: str | None = None
    add_actions: list[str] | None = None
    remove_actions: list[str] | None = None


def scope_map(record: ScopeMapRecord) -> ScopeMap:
    return ScopeMap(name=record.name, description=record.description,
                    type="SystemDefined" if record.system else "UserDefined",
                    actions=[format_action(r) for r in record.rules], created_at=record.created_at,
                    updated_at=record.updated_at)


@router.get("/scope-maps", response_model=list[ScopeMap], summary="List scope maps")
def list_scope_maps(context: Context = Depends(reader)) -> list[ScopeMap]:
    return [scope_map(s) for s in context.identities.scope_maps.list(context.registry.id)]


@router.post("/scope-maps", response_model=ScopeMap, status_code=201, summary="Create a scope map")
def create_scope_map(body: ScopeMapCreate, context: Context = Depends(writer)) -> ScopeMap:
    return scope_map(context.identities.scope_maps.create(context.registry.id, body.name, body.actions,
                                                         body.description))


@router.get("/scope-maps/{name}", response_model=ScopeMap, summary="Show a scope map")
def get_scope_map(name: str, context: Context = Depends(reader)) -> ScopeMap:
    return scope_map(context.identities.scope_maps.get(context.registry.id, name))


@router.patch("/scope-maps/{name}", response_model=ScopeMap,
              summary="Change a scope map's description or actions (system maps: 409)")
def update_scope_map(name: str, body: ScopeMapUpdate, context: Context = Depends(writer)) -> ScopeMap:
    return scope_map(context.identities.scope_maps.update(
        context.registry.id, name, description=body.description, add=body.add_actions, remove=body.remove_actions))


@router.delete("/scope-maps/{name}", status_code=204, response_class=Response,
               summary="Delete a scope map (409 when a token uses it, or a system map)")
def delete_scope_map(name: str, context: Context = Depends(writer)) -> Response:
    context.identities.scope_maps.delete(context.registry.id, name)
    return Response(status_code=204)
