"""/api/repositories: repositories, tags and manifests (`az acr repository`, `az acr manifest`).

Repository names hold slashes, so paths put the name first (`{name:path}`) and fixed suffixes after
it: `/_tags`, `/_tags/{tag}`, `/_manifests`, `/_manifests/{reference}` (a name's components never
start with `_`, so these never clash). Authorization follows ACR's data-plane-backed commands: the
principal's grant on that repository (roles at registry or repository scope, and repository tokens
through their scope map): reads need metadata_read, attribute changes metadata_write, deletes and
untag delete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Security
from pydantic import StrictBool

from cargohold.core.access import Principal
from cargohold.core.attributes import as_json
from cargohold.core.errors import Denied, InvalidArgument
from cargohold.core.listing import ListingService
from cargohold.core.permissions import DELETE, METADATA_READ, METADATA_WRITE
from cargohold.core.ports.records import Attributes, Registry
from cargohold.core.ports.repository_store import ManifestInfo, RepositoryInfo, TagInfo
from cargohold.core.repositories import RepositoryService, check_top

from . import models
from .deps import addressed_registry, basic_scheme, management, required_credentials, signed_in

router = APIRouter(tags=["repositories"])

# What each data-plane permission is called in refusals, and the roles that carry it.
_NEEDS = {METADATA_READ: "metadata_read (AcrPull, AcrPush, Reader, Contributor or Owner)",
          METADATA_WRITE: "metadata_write (AcrPush, Contributor or Owner)",
          DELETE: "delete (AcrDelete, Contributor or Owner)"}


# --- who is calling ----------------------------------------------------------------------------


class RepositoryCaller:
    """One authenticated request to a repository endpoint: its registry, principal and the service."""

    def __init__(self, registry: Registry, principal: Principal, service: RepositoryService,
                 listing: ListingService) -> None:
        self.registry = registry
        self.principal = principal
        self.service = service
        self.listing = listing

    @property
    def registry_id(self) -> int:
        return self.registry.id

    def require(self, repository: str, permission: str) -> None:
        if not self.principal.allows(repository, permission):
            raise Denied(f"{self.principal.name or 'the caller'} may not do this on repository '{repository}': "
                         f"it needs {_NEEDS[permission]}", {"permission": permission, "repository": repository})


def repository_service(request: Request) -> RepositoryService:
    return management(request).repositories


def repository_caller(request: Request, _scheme: None = Security(basic_scheme)) -> RepositoryCaller:
    """HTTP Basic as elsewhere in /api, but repository tokens are welcome: their scope map decides."""
    credentials = required_credentials(request)
    registry = addressed_registry(request)
    m = management(request)
    return RepositoryCaller(registry, signed_in(request, registry, credentials), m.repositories, m.listing)


Caller = Annotated[RepositoryCaller, Depends(repository_caller)]


# --- bodies ------------------------------------------------------------------------------------


class ChangeableAttributes(models.Response):
    delete_enabled: bool
    write_enabled: bool
    read_enabled: bool
    list_enabled: bool


def _attributes(attrs: Attributes) -> ChangeableAttributes:
    return ChangeableAttributes.model_validate(as_json(attrs))


class AttributesUpdate(models.Request):
    """ACR's changeable attributes; a field absent or null is left as it is (at least one is required)."""

    delete_enabled: StrictBool | None = None
    write_enabled: StrictBool | None = None
    read_enabled: StrictBool | None = None
    list_enabled: StrictBool | None = None

    def changes(self) -> dict[str, bool | None]:
        values = {"delete_enabled": self.delete_enabled, "write_enabled": self.write_enabled,
                  "read_enabled": self.read_enabled, "list_enabled": self.list_enabled}
        if all(v is None for v in values.values()):
            raise InvalidArgument("give at least one of deleteEnabled, writeEnabled, readEnabled, listEnabled")
        return values


class RepositoryView(models.Response):
    registry: str
    image_name: str
    created_time: datetime
    last_update_time: datetime
    manifest_count: int
    tag_count: int
    changeable_attributes: ChangeableAttributes


class TagView(models.Response):
    name: str
    digest: str
    created_time: datetime
    last_update_time: datetime
    changeable_attributes: ChangeableAttributes


class ManifestView(models.Response):
    digest: str
    media_type: str
    artifact_type: str | None
    subject: str | None
    size: int
    created_time: datetime
    last_update_time: datetime
    tags: list[str]
    changeable_attributes: ChangeableAttributes


class Deleted(models.Response):
    manifests_deleted: list[str]
    tags_deleted: list[str]


def _repository(caller: RepositoryCaller, info: RepositoryInfo) -> RepositoryView:
    return RepositoryView(registry=caller.registry.login_server, image_name=info.name, created_time=info.created_at,
                          last_update_time=info.updated_at, manifest_count=info.manifest_count,
                          tag_count=info.tag_count, changeable_attributes=_attributes(info.attributes))


def _tag(info: TagInfo) -> TagView:
    return TagView(name=info.name, digest=info.digest, created_time=info.created_at,
                   last_update_time=info.updated_at, changeable_attributes=_attributes(info.attributes))


def _manifest(info: ManifestInfo) -> ManifestView:
    return ManifestView(digest=info.digest, media_type=info.media_type, artifact_type=info.artifact_type,
                        subject=info.subject, size=info.size, created_time=info.created_at,
                        last_update_time=info.updated_at, tags=list(info.tags),
                        changeable_attributes=_attributes(info.attributes))


Order = Annotated[str | None, Query(description="time_asc | time_desc (by last update) | name (default)")]
Top = Annotated[int | None, Query(description="at most this many (1-10000)")]


# --- tags (fixed suffixes first: `{name:path}` alone would swallow them) ------------------------


@router.get("/repositories/{name:path}/_tags", response_model=list[TagView], summary="List a repository's tags")
async def list_tags(name: str, caller: Caller, orderby: Order = None, top: Top = None) -> list[TagView]:
    caller.require(name, METADATA_READ)
    return [_tag(t) for t in await caller.service.tags(caller.registry_id, name, orderby, top)]


@router.get("/repositories/{name:path}/_tags/{tag}", response_model=TagView, summary="Show a tag")
async def show_tag(name: str, tag: str, caller: Caller) -> TagView:
    caller.require(name, METADATA_READ)
    return _tag(await caller.service.tag(caller.registry_id, name, tag))


@router.patch("/repositories/{name:path}/_tags/{tag}", response_model=TagView, summary="Change a tag's attributes")
async def update_tag(name: str, tag: str, body: AttributesUpdate, caller: Caller) -> TagView:
    caller.require(name, METADATA_WRITE)
    return _tag(await caller.service.update_tag(caller.registry_id, name, tag, body.changes()))


@router.delete("/repositories/{name:path}/_tags/{tag}", status_code=204, summary="Untag (the manifest stays)")
async def untag(name: str, tag: str, caller: Caller) -> None:
    caller.require(name, DELETE)
    await caller.service.untag(caller.registry_id, name, tag)


# --- manifests ---------------------------------------------------------------------------------


@router.get("/repositories/{name:path}/_manifests", response_model=list[ManifestView],
            summary="List a repository's manifests, tagged or not")
async def list_manifests(name: str, caller: Caller, orderby: Order = None, top: Top = None) -> list[ManifestView]:
    caller.require(name, METADATA_READ)
    return [_manifest(m) for m in await caller.service.manifests(caller.registry_id, name, orderby, top)]


@router.get("/repositories/{name:path}/_manifests/{reference}", response_model=ManifestView,
            summary="Show a manifest (by digest or by tag)")
async def show_manifest(name: str, reference: str, caller: Caller) -> ManifestView:
    caller.require(name, METADATA_READ)
    return _manifest(await caller.service.manifest(caller.registry_id, name, reference))


@router.patch("/repositories/{name:path}/_manifests/{reference}", response_model=ManifestView,
              summary="Change a manifest's attributes (by digest or by tag)")
async def update_manifest(name: str, reference: str, body: AttributesUpdate, caller: Caller) -> ManifestView:
    caller.require(name, METADATA_WRITE)
    return _manifest(await caller.service.update_manifest(caller.registry_id, name, reference, body.changes()))


@router.delete("/repositories/{name:path}/_manifests/{reference}", response_model=Deleted,
               summary="Delete an image: the manifest and every tag naming it")
async def delete_image(name: str, reference: str, caller: Caller) -> Deleted:
    caller.require(name, DELETE)
    deleted = await caller.service.delete_image(caller.registry_id, name, reference)
    return Deleted(manifests_deleted=[deleted.digest], tags_deleted=deleted.tags)


# --- repositories ------------------------------------------------------------------------------


@router.get("/repositories", response_model=list[str], summary="List repositories")
async def list_repositories(caller: Caller, last: str | None = None, top: Top = None) -> list[str]:
    """Those the caller may read (metadata_read) and whose listEnabled is true, in lexical order
    (core/listing.py's catalog rule, the same as /v2/_catalog's)."""
    page = await caller.listing.catalog(caller.registry_id, caller.principal, check_top(top), last)
    return page.items


@router.get("/repositories/{name:path}", response_model=RepositoryView, summary="Show a repository")
async def show_repository(name: str, caller: Caller) -> RepositoryView:
    caller.require(name, METADATA_READ)
    return _repository(caller, await caller.service.show(caller.registry_id, name))


@router.patch("/repositories/{name:path}", response_model=RepositoryView, summary="Change a repository's attributes")
async def update_repository(name: str, body: AttributesUpdate, caller: Caller) -> RepositoryView:
    caller.require(name, METADATA_WRITE)
    return _repository(caller, await caller.service.update(caller.registry_id, name, body.changes()))


@router.delete("/repositories/{name:path}", response_model=Deleted,
               summary="Delete a repository: every manifest, tag and blob link in it")
async def delete_repository(name: str, caller: Caller) -> Deleted:
    caller.require(name, DELETE)
    removed = await caller.service.delete(caller.registry_id, name)
    return Deleted(manifests_deleted=removed.manifests, tags_deleted=removed.tags)
