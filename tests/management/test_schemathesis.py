"""Property-based fuzzing of every /api operation from its OpenAPI document (schemathesis), signed in as
the owner on a registry of this module's own: whatever the input, never a 5xx, and every 4xx carries the
error JSON.

The document is built in process (it depends on the code only) so that schemathesis can make one test per
operation at collection time; test_served_document_is_the_one_fuzzed checks the server serves the same."""

from __future__ import annotations

from typing import Any, cast

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from mgmttools import OWNER_PASSWORD, check_error

from cargohold.api.management.app import create_management_app
from support import RegistryServer

EXAMPLES_PER_OPERATION = 40
DOCUMENT = create_management_app(cast(Any, None)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_served_document_is_the_one_fuzzed(server: RegistryServer) -> None:
    served = httpx.get(server.url + "/api/openapi.json").json()
    assert served.pop("servers") == [{"url": "/api"}]  # added when mounted
    assert served == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_with_a_server_error(case: Any, server: RegistryServer) -> None:
    response = case.call(base_url=server.url + "/api", auth=("owner", OWNER_PASSWORD), timeout=60)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
    if 400 <= response.status_code < 500:
        headers = [(k, v) for k, values in response.headers.items() for v in values]
        check_error(httpx.Response(response.status_code, headers=headers, content=response.content))
