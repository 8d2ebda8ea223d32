"""/api/tokens: repository tokens (`az acr token`), each bound to one scope map."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import AwareDatetime, Field, StrictBool

from cargohold.core.identity_common import IdentityView

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["tokens"])
Status = Literal["enabled", "disabled"]
PasswordName = Literal["password1", "password2"]


class TokenCredentials(models.Response):
    passwords: list[models.Secret]


class Token(models.Response):
    name: str
    scope_map_name: str | None
    status: Status
    created_at: datetime
    credentials: TokenCredentials


class TokenCreate(models.Request):
    name: str = Field(description="5-50 letters, digits or '-'")
    scope_map_name: str | None = Field(default=None, description="an existing scope map; or give repositories "
                                                                 "and actions")
    repositories: list[str] | None = Field(default=None, description="repository names or prefix/* patterns; "
                                                                     "with actions, creates <name>-scope-map")
    actions: list[str] | None = Field(default=None, description="content/read, content/write, content/delete, "
                                                                "metadata/read, metadata/write")
    status: Status = "enabled"
    no_passwords: StrictBool = False
    expiry: AwareDatetime | None = Field(default=None, description="when generated passwords stop working")


class TokenUpdate(models.Request):
    scope_map_name: str | None = None
    status: Status | None = None


class PasswordCreate(models.Request):
    name: PasswordName
    expiry: AwareDatetime | None = None


def token(view: IdentityView) -> Token:
    t = view.identity
    return Token(name=t.name, scope_map_name=view.scope_map_name, status="enabled" if t.enabled else "disabled",
                 created_at=t.created_at, credentials=TokenCredentials(passwords=models.secrets(view)))


@router.get("/tokens", response_model=list[Token], summary="List tokens")
def list_tokens(context: Context = Depends(reader)) -> list[Token]:
    return [token(v) for v in context.identities.tokens.list(context.registry.id)]


@router.post("/tokens", response_model=Token, status_code=201,
             summary="Create a token (passwords, unless noPasswords, are shown in this response only)")
def create_token(body: TokenCreate, context: Context = Depends(writer)) -> Token:
    return token(context.identities.tokens.create(
        context.registry.id, body.name, scope_map_name=body.scope_map_name, repositories=body.repositories,
        actions=body.actions, enabled=body.status == "enabled", passwords=not body.no_passwords,
        expiry=body.expiry))


@router.get("/tokens/{name}", response_model=Token, summary="Show a token")
def get_token(name: str, context: Context = Depends(reader)) -> Token:
    return token(context.identities.tokens.get(context.registry.id, name))


@router.patch("/tokens/{name}", response_model=Token, summary="Change a token's scope map or status")
def update_token(name: str, body: TokenUpdate, context: Context = Depends(writer)) -> Token:
    enabled = None if body.status is None else body.status == "enabled"
    return token(context.identities.tokens.update(context.registry.id, name, scope_map_name=body.scope_map_name,
                                                 enabled=enabled))


@router.delete("/tokens/{name}", status_code=204, response_class=Response, summary="Delete a token")
def delete_token(name: str, context: Context = Depends(writer)) -> Response:
    context.identities.tokens.delete(context.registry.id, name)
    return Response(status_code=204)


@router.post("/tokens/{name}/credentials", response_model=Token,
             summary="Generate password1 or password2 (replacing it); its value is in this response only")
def generate_password(name: str, body: PasswordCreate, context: Context = Depends(writer)) -> Token:
    return token(context.identities.tokens.generate_password(context.registry.id, name, body.name, body.expiry))


@router.delete("/tokens/{name}/credentials/{password}", status_code=204, response_class=Response,
               summary="Delete password1 or password2")
def delete_password(name: str, password: PasswordName, context: Context = Depends(writer)) -> Response:
    context.identities.tokens.delete_password(context.registry.id, name, password)
    return Response(status_code=204)
