"""/api/tag-rules: write-once tag rules (core/tag_rules.py). Listing needs cp:read, changes cp:write."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StrictStr

from cargohold.core.ports.records import TagImmutabilityRule
from cargohold.core.repositories import RepositoryService

from . import models
from .deps import Context, reader, writer
from .repositories import repository_service

router = APIRouter(tags=["tag rules"])


class TagRule(models.Response):
    id: str
    repository: str = Field(description='"" (every repository), a repository name, or "prefix/*"')
    pattern: str = Field(description="a regular expression matched against the whole tag")
    description: str
    created_at: datetime


class TagRuleCreate(models.Request):
    pattern: StrictStr = Field(description="an RE2 regular expression (≤255 characters) the whole tag must match, "
                                           "e.g. ^v\\d+\\.\\d+\\.\\d+$")
    repository: StrictStr = Field("", description='"" (every repository; the default), a name, or "prefix/*"')
    description: StrictStr = ""


def _view(rule: TagImmutabilityRule) -> TagRule:
    return TagRule(id=rule.id, repository=rule.repository, pattern=rule.pattern, description=rule.description,
                   created_at=rule.created_at)


def _service(request: Request) -> RepositoryService:
    return repository_service(request)


@router.get("/tag-rules", response_model=list[TagRule], summary="List write-once tag rules")
async def list_rules(context: Context = Depends(reader), service: RepositoryService = Depends(_service)
                     ) -> list[TagRule]:
    return [_view(r) for r in await service.tag_rules(context.registry.id)]


@router.post("/tag-rules", response_model=TagRule, status_code=201, summary="Create a write-once tag rule")
async def create_rule(body: TagRuleCreate, context: Context = Depends(writer),
                      service: RepositoryService = Depends(_service)) -> TagRule:
    return _view(await service.create_tag_rule(context.registry.id, body.pattern, body.repository,
                                               body.description))


@router.delete("/tag-rules/{rule_id}", status_code=204, summary="Delete a write-once tag rule")
async def delete_rule(rule_id: str, context: Context = Depends(writer),
                      service: RepositoryService = Depends(_service)) -> None:
    await service.delete_tag_rule(context.registry.id, rule_id)
