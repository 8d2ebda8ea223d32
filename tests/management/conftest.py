"""Fixtures for the management API tests: a registry of their own (one worker, so a change is seen at once),
owner credentials, and helpers that create identities through the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mgmttools import Api

from support import RegistryServer, owner_api_fixture, owner_registry_fixture, unique

server = owner_registry_fixture("management", workers=1)
owner = owner_api_fixture()


@pytest.fixture()
def as_user(server: RegistryServer, owner: Api) -> Iterator[Callable[..., Api]]:
    """as_user(role, scope="") → an Api signed in as a new user holding that role (None: no role)."""
    opened: list[Api] = []

    def make(role: str | None, scope: str = "") -> Api:
        name = "u" + secrets.token_hex(5)
        created = owner.post("/users", {"name": name}, expect=201)
        if role is not None:
            owner.post("/role-assignments", {"assignee": name, "role": role, "scope": scope}, expect=201)
        api = Api(server.url, name, created["password"])
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


@pytest.fixture(name="unique")
def unique_fixture() -> Callable[[str], str]:
    """unique("tok") → a fresh valid name such as tok-3f9a1c0d (support.unique)."""
    return unique


@pytest.fixture()
def anonymous(server: RegistryServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.timeout(300))
