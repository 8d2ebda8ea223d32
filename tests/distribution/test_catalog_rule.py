"""core/listing.py's catalog(): the one catalog rule both planes use (/v2/_catalog, GET /api/repositories)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from cargohold.core.errors import Denied, PaginationInvalid
from cargohold.core.listing import MAX_LAST, MAX_PAGE, ListingService
from cargohold.core.permissions import METADATA_READ, PULL


class _Names:
    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)

    def list_repositories(self, registry_id: int, last: str | None, limit: int | None) -> list[str]:
        after = [n for n in self.names if last is None or n > last]
        return after if limit is None else after[:limit]


@dataclass
class _Caller:
    kind: str = "user"
    pull: set[str] = field(default_factory=set)
    metadata: set[str] = field(default_factory=set)

    def may_read(self, repository: str) -> bool:
        return repository in self.pull

    def allows(self, repository: str, action: str) -> bool:
        return repository in (self.pull if action == PULL else self.metadata if action == METADATA_READ else ())


def _catalog(caller: _Caller, limit: int | None = None, last: str | None = None, names: int = 2500) -> list[str]:
    listing = ListingService(_Names([f"r{i:05d}" for i in range(names)]))  # type: ignore[arg-type]
    return asyncio.run(listing.catalog(1, caller, limit, last)).items


@pytest.mark.parametrize("kind", ["token", "anonymous"])
def test_repository_tokens_and_anonymous_callers_are_denied(kind: str) -> None:
    with pytest.raises(Denied):
        _catalog(_Caller(kind=kind, pull={"r00001"}))


def test_an_identity_without_grants_sees_an_empty_list() -> None:
    assert _catalog(_Caller()) == []


def test_pull_or_metadata_read_shows_a_repository_across_batches() -> None:
    caller = _Caller(pull={"r00001", "r02400"}, metadata={"r01500"})
    assert _catalog(caller) == ["r00001", "r01500", "r02400"]
    assert _catalog(caller, limit=2) == ["r00001", "r01500"]
    assert _catalog(caller, last="r01500") == ["r02400"]
    assert _catalog(caller, limit=0) == []


def test_one_bound_for_last_and_one_for_the_page() -> None:
    caller = _Caller(pull={"r00001"})
    with pytest.raises(PaginationInvalid):
        _catalog(caller, last="a" * (MAX_LAST + 1))
    with pytest.raises(PaginationInvalid):
        _catalog(caller, limit=MAX_PAGE + 1)
    assert _catalog(caller, last="z" * MAX_LAST) == []
