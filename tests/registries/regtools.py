"""Helpers for the registries tests: create a registry as the operator, address it by Host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from mgmttools import Api

from support import unique


@dataclass
class Created:
    name: str
    login_server: str
    owner_password: str
    body: dict[str, Any]

    def api(self, url: str) -> Api:
        """/api of this registry as its owner, addressed by the Host header."""
        api = Api(url, "owner", self.owner_password)
        api.http.headers["Host"] = self.login_server
        return api

    def host_client(self, url: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Host": self.login_server}, timeout=60.0, **kwargs)


def unique_name(prefix: str = "reg") -> str:
    """A registry name: letters and digits only."""
    return unique(prefix, sep="", size=10)


def create_registry(operator: Api, sku: str, login_server: str | None = None, **extra: Any) -> Created:
    name = unique_name()
    server = login_server or f"{name}.example.test:5000"
    body = operator.post("/registries", {"name": name, "loginServer": server, "sku": sku, **extra}, expect=201)
    return Created(name, server, body["ownerCredentials"]["password"], body)
