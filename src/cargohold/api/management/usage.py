"""GET /api/registry/usage: the addressed registry's usage against its limits (`az acr show-usage`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from cargohold.core.usage import Usage, with_capacity

from . import models
from .deps import Context, management, reader

router = APIRouter(tags=["registry"])


class UsageItem(models.Response):
    name: str = Field(description="Size, StorageQuota (only when set), StorageCapacity and StorageFree (the "
                                  "storage's size and bytes in use; bytes free against the reserve below which "
                                  "uploads are refused), Webhooks, Geo-replications, IPRules, Tokens, ScopeMaps")
    limit: int
    current_value: int
    unit: str = Field(description="Bytes or Count")


class UsageList(models.Response):
    value: list[UsageItem]
    storage_over_included_bytes: int = Field(
        description="bytes stored beyond the SKU's included storage (0 when within it)")


def usage_list(usage: Usage, request: Request | None = None) -> UsageList:
    """The response; with `request`, the storage's capacity rows too (they are the deployment's)."""
    space = management(request).space if request is not None else None
    if space is not None:
        usage = with_capacity(usage, space.status())
    return UsageList(value=[UsageItem(name=r.name, limit=r.limit, current_value=r.current_value, unit=r.unit)
                            for r in usage.rows], storage_over_included_bytes=usage.over_included_bytes)


@router.get("/registry/usage", response_model=UsageList, summary="The registry's usage against its limits")
def get_usage(request: Request, context: Context = Depends(reader)) -> UsageList:
    assert context.registries is not None
    return usage_list(context.registries.usage(context.registry), request)
