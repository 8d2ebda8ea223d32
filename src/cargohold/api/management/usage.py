"""GET /api/registry/usage: the addressed registry's usage against its limits (`az acr show-usage`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from cargohold.core.usage import Usage

from . import models
from .deps import Context, reader

router = APIRouter(tags=["registry"])


class UsageItem(models.Response):
    name: str = Field(description="Size, StorageQuota (only when set), Webhooks, Geo-replications, IPRules, "
                                  "Tokens, ScopeMaps")
    limit: int
    current_value: int
    unit: str = Field(description="Bytes or Count")


class UsageList(models.Response):
    value: list[UsageItem]
    storage_over_included_bytes: int = Field(
        description="bytes stored beyond the SKU's included storage (0 when within it)")


def usage_list(usage: Usage) -> UsageList:
    return UsageList(value=[UsageItem(name=r.name, limit=r.limit, current_value=r.current_value, unit=r.unit)
                            for r in usage.rows], storage_over_included_bytes=usage.over_included_bytes)


@router.get("/registry/usage", response_model=UsageList, summary="The registry's usage against its limits")
def get_usage(context: Context = Depends(reader)) -> UsageList:
    assert context.registries is not None
    return usage_list(context.registries.usage(context.registry))
