"""Fixtures for the OCI conformance tests: an httpx client on the session registry.

The registry requires authentication (DESIGN.md "Security defaults"); like the official suite run
with OCI_USERNAME/OCI_PASSWORD, the client authenticates as the owner through the Docker token flow
(support.RegistryBearerAuth: 401 challenge -> token from the realm -> retry with the bearer token).

The client (oci.make_client) checks two project-wide rules on every response, so each
test enforces them without saying so: no request, however bad, is answered with a 5xx;
every 4xx answer to a request other than HEAD carries OCI error JSON.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from oci import make_client

from support import RegistryServer


@pytest.fixture(scope="session")
def client(registry: RegistryServer) -> Iterator[httpx.Client]:
    with make_client(registry.url, registry.auth) as c:
        yield c
