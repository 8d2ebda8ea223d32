"""The SSRF guard on imports (issue 8): a source on a refused address is a 403 naming the address and the
setting, a redirect hop to a refused address is refused, an allow-listed destination works.

The guarded server allows the host name `localhost` only: `http://localhost:PORT` reaches the test
servers, while `127.0.0.1` written out (or redirected to) is loopback that no entry allows. All traffic
stays on 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from importtools import ImportCall, call_import, simple_image, tags, unique

from support import DistributionServer, RegistryServer, running_registry


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("guarded") / "data", workers=1,
                          extra_env={"CARGOHOLD_OUTBOUND_ALLOW": "localhost"}) as server:
        yield server


@pytest.fixture(scope="module")
def image(distribution: DistributionServer) -> str:
    repo = unique("ssrf/app")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        simple_image(http, repo, "v1", unique("ssrf"))
    return f"{repo}:v1"


def _refused(result: ImportCall, address: str) -> None:
    assert result.status == 403, result
    assert result.content_type.startswith("application/json"), result
    error = result.error
    assert error["code"] == "DENIED", result
    assert address in error["message"] and "outbound_allow" in error["message"], error


def test_a_loopback_source_is_refused_without_the_allow_list(
        guarded: RegistryServer, distribution: DistributionServer, image: str) -> None:
    target = f"{unique('ssrf/never')}:v1"
    _refused(call_import(guarded, f"http://{distribution.host}/{image}", target), "127.0.0.1")
    assert tags(guarded, target.split(":")[0]) is None


def test_an_allow_listed_source_is_imported(guarded: RegistryServer, distribution: DistributionServer,
                                            image: str) -> None:
    target = f"{unique('ssrf/ok')}:v1"
    port = distribution.host.rpartition(":")[2]
    result = call_import(guarded, f"http://localhost:{port}/{image}", target)
    assert result.status == 200 and result.last["event"] == "done", result
    assert tags(guarded, target.split(":")[0]) == ["v1"]


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def redirector(distribution: DistributionServer) -> Iterator[int]:
    """A server on 127.0.0.1 that redirects every GET to the Distribution server at 127.0.0.1 (refused)."""
    handler = type("Redirect", (_Redirect,), {"target": f"http://{distribution.host}"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_from_an_allowed_host_to_a_refused_address_is_refused(
        guarded: RegistryServer, redirector: int, image: str, tmp_path: Path) -> None:
    target = f"{unique('ssrf/redirected')}:v1"
    _refused(call_import(guarded, f"http://localhost:{redirector}/{image}", target), "127.0.0.1")
    assert tags(guarded, target.split(":")[0]) is None
