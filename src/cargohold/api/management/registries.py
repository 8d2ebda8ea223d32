"""/api/registries: registries as resources (operator level: Owner on the default registry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, StrictInt, StrictStr

from cargohold.core.registries import RegistryInfo

from . import models
from .deps import Context, operator
from .registry import RegistryBasics
from .usage import UsageList, usage_list

router = APIRouter(tags=["registries"])


class RegistryResource(RegistryBasics):
    limit_overrides: dict[str, int] = Field(description="the operator's overrides of the SKU's limits")
    storage_quota_bytes: int | None = Field(description="hard storage quota (null: none)")
    storage_used_bytes: int
    is_default: bool
    created_at: datetime | None


class OwnerCredentials(models.Response):
    username: str
    password: str


class RegistryCreated(RegistryResource):
    owner_credentials: OwnerCredentials = Field(
        description="the new registry's owner (Owner role): shown only in this response")


class RegistryCreate(models.Request):
    name: StrictStr
    login_server: StrictStr
    sku: StrictStr
    limit_overrides: dict[StrictStr, StrictInt] | None = None
    storage_quota_bytes: StrictInt | None = None


class RegistryPatch(models.Request):
    sku: StrictStr | None = None
    login_server: StrictStr | None = None
    limit_overrides: dict[StrictStr, StrictInt | None] | None = Field(
        default=None, description="merged into the current overrides; a null value drops that override")
    storage_quota_bytes: StrictInt | None = Field(default=None, description="null removes the quota; absent keeps it")


def resource(info: RegistryInfo) -> dict[str, Any]:
    r, s = info.registry, info.settings
    return dict(name=r.name, login_server=r.login_server, sku=s.sku, admin_user_enabled=s.admin_enabled,
                anonymous_pull_enabled=s.anonymous_pull_enabled, limit_overrides=s.limit_overrides or {},
                storage_quota_bytes=s.storage_quota_bytes, storage_used_bytes=s.storage_used_bytes,
                is_default=info.is_default, created_at=info.created_at)


def _service(context: Context) -> Any:
    assert context.registries is not None
    return context.registries


@router.get("/registries", response_model=list[RegistryResource], summary="List registries (operator)")
def list_registries(context: Context = Depends(operator)) -> list[RegistryResource]:
    return [RegistryResource(**resource(i)) for i in _service(context).list()]


@router.post("/registries", response_model=RegistryCreated, status_code=201, summary="Create a registry (operator)")
def create_registry(body: RegistryCreate, context: Context = Depends(operator)) -> RegistryCreated:
    info, secret = _service(context).create(body.name, body.login_server, body.sku, body.limit_overrides,
                                            body.storage_quota_bytes)
    return RegistryCreated(**resource(info), owner_credentials=OwnerCredentials(username="owner",
                                                                                password=secret.value))


@router.get("/registries/{name}", response_model=RegistryResource, summary="Show a registry (operator)")
def get_registry(name: str, context: Context = Depends(operator)) -> RegistryResource:
    service = _service(context)
    return RegistryResource(**resource(service.info(service.get(name))))


@router.patch("/registries/{name}", response_model=RegistryResource, summary="Change a registry (operator)")
def update_registry(name: str, body: RegistryPatch, context: Context = Depends(operator)) -> RegistryResource:
    quota: Any = body.storage_quota_bytes if "storage_quota_bytes" in body.model_fields_set else ...
    kwargs: dict[str, Any] = {} if quota is ... else {"storage_quota_bytes": quota}
    info = _service(context).update(name, sku=body.sku, login_server=body.login_server,
                                    limit_overrides=body.limit_overrides, **kwargs)
    return RegistryResource(**resource(info))


@router.delete("/registries/{name}", status_code=204, response_class=Response,
               summary="Delete a registry's metadata (operator; blob files stay for garbage collection)")
def delete_registry(name: str, context: Context = Depends(operator)) -> Response:
    _service(context).delete(name)
    return Response(status_code=204)


@router.get("/registries/{name}/usage", response_model=UsageList, summary="A registry's usage (operator)")
def registry_usage(name: str, request: Request, context: Context = Depends(operator)) -> UsageList:
    service = _service(context)
    return usage_list(service.usage(service.get(name)), request)
