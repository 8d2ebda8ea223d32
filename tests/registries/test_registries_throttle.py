"""The throttle honours a registry's own request-rate overrides (limitOverrides reads_per_minute, ...)."""

from __future__ import annotations

from pathlib import Path

import httpx
from mgmttools import Api
from regtools import create_registry

from support import running_registry


def test_a_registry_rate_override_throttles_that_registry_only(tmp_path: Path) -> None:
    with running_registry(tmp_path / "data", workers=1) as server, \
            Api(server.url, server.username, server.password) as operator:
        slow = create_registry(operator, "Premium", limitOverrides={"reads_per_minute": 4})
        statuses = []
        with slow.host_client(server.url, auth=("owner", slow.owner_password)) as http:
            for _ in range(4):
                response = http.get("/v2/")
                statuses.append(response.status_code)
            assert statuses[:2] == [200, 200] and statuses[-1] == 429, statuses
            error = response.json()["errors"][0]
            assert error["code"] == "TOOMANYREQUESTS" and "may make 2 a minute" in error["message"]  # half of 4
            assert int(response.headers["Retry-After"]) >= 1
        # The default registry (Premium, no override) serves the same burst.
        for _ in range(6):
            assert httpx.get(server.url + "/v2/", auth=server.basic_auth).status_code == 200
        operator.delete(f"/registries/{slow.name}")
