"""A throttled call (429 with a short Retry-After) is retried after the wait, as az does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clitools import Cli

from support import RegistryServer, running_registry


@pytest.fixture()
def throttled_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    # 30 logins a minute for the registry, 15 for one identity: once spent, a wait of a few seconds.
    env = {"CARGOHOLD_THROTTLE_LOGINS_PER_MINUTE": "30"}
    with running_registry(tmp_path / "data", workers=1, extra_env=env) as server:
        yield server


def test_login_waits_out_a_throttled_token_endpoint(throttled_registry: RegistryServer, tmp_path: Path) -> None:
    server = throttled_registry
    statuses = []
    for _ in range(40):
        r = httpx.get(server.url + "/oauth2/token", params={"service": server.host}, auth=server.basic_auth)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert 1 <= int(r.headers["Retry-After"]) <= 10
            break
    assert statuses[-1] == 429, statuses

    cli = Cli(tmp_path / "cli", server, owner=False)
    out = cli.json("login", "--expose-token", "-u", server.username, "-p", server.password)
    assert out["loginServer"] == server.host
