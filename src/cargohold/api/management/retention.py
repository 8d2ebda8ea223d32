"""GET/PATCH /api/registry/retention: the retention policy for untagged manifests (`az acr config retention`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StrictInt, StrictStr

from cargohold.core.retention import POLICY_TYPE, RetentionPolicy

from . import models
from .deps import Context, management, reader, writer

router = APIRouter(tags=["retention"])


class Retention(models.Response):
    status: Literal["enabled", "disabled"]
    days: int = Field(description="untagged manifests older than this many days are deleted (0-365)")
    type: Literal["UntaggedManifests"]
    last_updated_time: datetime | None = Field(description="when the registry's settings last changed")


class RetentionUpdate(models.Request):
    status: StrictStr | None = Field(default=None, description="enabled or disabled")
    days: StrictInt | None = Field(default=None, description="0-365 (0: as soon as a sweep finds them)")
    type: StrictStr | None = Field(default=None, description="UntaggedManifests (the only type)")


def _render(policy: RetentionPolicy) -> Retention:
    return Retention(status="enabled" if policy.enabled else "disabled", days=policy.days, type=POLICY_TYPE,
                     last_updated_time=policy.updated_at)


@router.get("/registry/retention", response_model=Retention, summary="Show the retention policy")
def get_retention(request: Request, context: Context = Depends(reader)) -> Retention:
    return _render(management(request).retention.show(context.registry))


@router.patch("/registry/retention", response_model=Retention, summary="Change the retention policy")
def update_retention(body: RetentionUpdate, request: Request, context: Context = Depends(writer)) -> Retention:
    return _render(management(request).retention.update(context.registry, status=body.status, days=body.days,
                                                        policy_type=body.type))
