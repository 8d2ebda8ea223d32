"""Paginated listings: tags of a repository, repositories of a registry (the catalog), referrers.

`catalog` is the one catalog rule for both planes (/v2/_catalog and GET /api/repositories): who may
list it (no repository token, no anonymous caller), which repositories it shows (listEnabled, and pull
or metadata_read on each: an identity with no grant sees an empty list), the `last` cursor's bound,
the page size bound (MAX_PAGE, one number) and the paging itself. (/v2/ first asks for the Docker
`registry:catalog:*` scope, `Caller.may_list_catalog` in core/access.py, to answer with a challenge.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest
from cargohold.core.errors import Denied, NameUnknown, PaginationInvalid
from cargohold.core.manifest_format import OCI_INDEX, Descriptor
from cargohold.core.names import MAX_NAME_LENGTH, validate_repository_name
from cargohold.core.permissions import METADATA_READ
from cargohold.core.ports.metadata_store import MetadataStore

MAX_PAGE = 10_000  # the most items one page holds (n on /v2/, top on /api)
MAX_LAST = MAX_NAME_LENGTH  # a `last` cursor names a repository or a tag: never longer than a name
_BATCH = 1000
NO_CATALOG = ("token", "anonymous")  # principal kinds that never list the catalog


class CatalogCaller(Protocol):
    """What the catalog rule asks of a caller (core.access's Principal and TokenCaller both answer)."""

    @property
    def kind(self) -> str: ...

    def may_read(self, repository: str) -> bool: ...

    def allows(self, repository: str, action: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    next_last: str | None  # set when more items may follow


def page_size(n: str | None) -> int | None:
    if n is None or n == "":
        return None
    try:
        value = int(n)
    except ValueError:
        raise PaginationInvalid(detail={"n": n}) from None
    if value < 0:
        raise PaginationInvalid(detail={"n": n})
    return min(value, MAX_PAGE)


def check_last(last: str | None) -> None:
    if last is not None and ("\x00" in last or len(last) > MAX_LAST):
        raise PaginationInvalid("invalid 'last' parameter", {"last": last[:64]})


def _page(items: list[str], limit: int | None) -> Page:
    if limit is not None and len(items) > limit:
        items = items[:limit]
        return Page(items, items[-1] if items else None)
    return Page(items, None)


class ListingService:
    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    async def tags(self, registry_id: int, repository: str, n: str | None, last: str | None) -> Page:
        validate_repository_name(repository)
        check_last(last)
        limit = page_size(n)
        if limit == 0:
            if not await blocking(self.metadata.repository_exists, registry_id, repository):
                raise NameUnknown(detail={"name": repository})
            return Page([], None)
        fetch = None if limit is None else limit + 1
        items = await blocking(self.metadata.list_tags, registry_id, repository, last, fetch)
        if items is None:
            raise NameUnknown(detail={"name": repository})
        return _page(items, limit)

    async def catalog(self, registry_id: int, caller: CatalogCaller, limit: int | None, last: str | None
                      ) -> Page:
        """Repositories the caller may see, in lexical order, at most `limit` (None: all) after `last`."""
        if caller.kind in NO_CATALOG:
            raise Denied("repository tokens and anonymous callers cannot list the catalog; "
                         "ask for a repository by name")
        check_last(last)
        if limit is not None and not 0 <= limit <= MAX_PAGE:
            raise PaginationInvalid(f"at most {MAX_PAGE} repositories per page", {"n": limit})
        if limit == 0:
            return Page([], None)
        found: list[str] = []
        cursor = last
        while True:
            items = await blocking(self.metadata.list_repositories, registry_id, cursor, _BATCH)
            found.extend(name for name in items if caller.may_read(name) or caller.allows(name, METADATA_READ))
            if len(items) < _BATCH or (limit is not None and len(found) > limit):
                break
            cursor = items[-1]
        return _page(found, limit)

    async def referrers(
        self, registry_id: int, repository: str, subject: str, artifact_type: str | None
    ) -> dict[str, object]:
        """The referrers of `subject` as an OCI image index (empty when there are none)."""
        validate_repository_name(repository)
        Digest.parse(subject)
        found = await blocking(self.metadata.list_referrers, registry_id, repository, subject, artifact_type)
        manifests = [
            Descriptor(r.media_type, r.digest, r.size, r.artifact_type, r.annotations or None).to_json()
            for r in found
        ]
        return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
