"""Fixtures for the OCI conformance tests: an httpx client on the session registry.

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
    with make_client(registry.url) as c:
        yield c
