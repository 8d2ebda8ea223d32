"""Shared pydantic bases: camelCase on the wire, strict and closed request bodies, the error body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cargohold.core.identity_common import IdentityView


class Request(BaseModel):
    """A request body: camelCase names only, no unknown fields (booleans and integers are strict)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_alias=True, validate_by_name=False,
                              extra="forbid")


class Response(BaseModel):
    """A response body: built from Python names, serialised with camelCase names."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_alias=True, validate_by_name=True,
                              serialize_by_alias=True)


def shown_once(description: str) -> Any:
    """A secret's value: present only in the response that generated it, absent (not null) elsewhere."""
    return Field(default=None, exclude_if=lambda v: v is None, description=description)


class Secret(Response):
    """A credential's metadata; `value` only in the response that generated it."""

    name: str
    created_at: datetime
    expiry: datetime | None = Field(description="when the secret stops working (null: never)")
    value: str | None = shown_once("the secret itself, shown only in the response that generated it")


def secrets(view: IdentityView) -> list[Secret]:
    """An identity's credentials as shown: metadata, and a value only where this call generated it."""
    return [Secret(name=s.name, created_at=s.created_at, expiry=s.expires_at, value=s.value) for s in view.secrets]


class ErrorItem(BaseModel):
    code: str = Field(description="NOT_FOUND, CONFLICT, INVALID_ARGUMENT, UNAUTHORIZED, DENIED, …")
    message: str
    detail: Any = None


class ErrorBody(BaseModel):
    errors: list[ErrorItem]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((400, "invalid argument"), (401, "credentials missing or wrong"),
                         (403, "the caller lacks the permission"), (404, "not found"),
                         (409, "conflicts with the current state"))
}
