"""/api/users: people who sign in with a name and password."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from cargohold.core.ports.records import Identity
from cargohold.core.users import MAX_PASSWORD, MIN_PASSWORD

from . import models
from .deps import Context, reader, writer

router = APIRouter(tags=["users"])


class User(models.Response):
    name: str
    kind: Literal["user"] = "user"
    enabled: bool
    created_at: datetime


class UserCreated(User):
    password: str = Field(description="shown in this response only")


class UserCreate(models.Request):
    name: str = Field(description="1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    password: str | None = Field(default=None, description=f"{MIN_PASSWORD}-{MAX_PASSWORD} characters; "
                                                           "generated when absent")


def user(identity: Identity) -> User:
    return User(name=identity.name, enabled=identity.enabled, created_at=identity.created_at)


@router.get("/users", response_model=list[User], summary="List users")
def list_users(context: Context = Depends(reader)) -> list[User]:
    return [user(i) for i in context.identities.users.list(context.registry.id)]


@router.post("/users", response_model=UserCreated, status_code=201,
             summary="Create a user (the password is in this response only)")
def create_user(body: UserCreate, context: Context = Depends(writer)) -> UserCreated:
    view = context.identities.users.create(context.registry.id, body.name, body.password)
    return UserCreated(**user(view.identity).model_dump(), password=view.new_secret or "")


@router.get("/users/{name}", response_model=User, summary="Show a user")
def get_user(name: str, context: Context = Depends(reader)) -> User:
    return user(context.identities.users.get(context.registry.id, name))


@router.delete("/users/{name}", status_code=204, response_class=Response,
               summary="Delete a user (not the owner)")
def delete_user(name: str, context: Context = Depends(writer)) -> Response:
    context.identities.users.delete(context.registry.id, name)
    return Response(status_code=204)
