"""The outbound HTTP adapter's SSRF guard (adapters/http.py), in process: which addresses are refused,
that host names are checked by what they resolve to, that the connection goes to the address checked,
and that metadata addresses stay refused inside allowed ranges."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cargohold.adapters import http as adapter
from cargohold.adapters.http import Guard, HttpxOutbound
from cargohold.core.errors import DestinationRefused

REFUSED = ["127.0.0.1", "127.9.9.9", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
           "100.64.0.1", "169.254.1.1", "fe80::1", "fc00::1", "fd12:3456::1", "0.0.0.0", "::", "224.0.0.1",
           "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "169.254.169.254", "fd00:ec2::254", "240.0.0.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    why = Guard().refusal(address, ipaddress.ip_address(address))
    assert why is not None and "outbound_allow" in why and "CARGOHOLD_OUTBOUND_ALLOW" in why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert Guard().refusal(address, ipaddress.ip_address(address)) is None


def test_the_allow_list_takes_cidrs_addresses_and_host_names() -> None:
    guard = Guard(["10.0.0.0/8", "192.168.1.7", "registry.internal"])
    assert guard.refusal("10.2.3.4", ipaddress.ip_address("10.2.3.4")) is None
    assert guard.refusal("192.168.1.7", ipaddress.ip_address("192.168.1.7")) is None
    assert guard.refusal("192.168.1.8", ipaddress.ip_address("192.168.1.8")) is not None
    assert guard.refusal("registry.internal", ipaddress.ip_address("172.20.0.5")) is None
    assert guard.refusal("other.internal", ipaddress.ip_address("172.20.0.5")) is not None


@pytest.mark.parametrize("allow", [["0.0.0.0/0", "::/0"], ["169.254.0.0/16", "fd00::/8"], ["metadata.internal"]])
def test_metadata_addresses_stay_refused_inside_allowed_ranges(allow: list[str]) -> None:
    """Decision: a range or host name never opens a cloud metadata address; only naming the address does."""
    guard = Guard(allow)
    for address in ("169.254.169.254", "fd00:ec2::254"):
        why = guard.refusal("metadata.internal", ipaddress.ip_address(address))
        assert why is not None and "metadata" in why
    assert Guard(["169.254.169.254"]).refusal("x", ipaddress.ip_address("169.254.169.254")) is None


def _get(outbound: HttpxOutbound, url: str) -> tuple[int, bytes]:
    async def run() -> tuple[int, bytes]:
        client = outbound.client(timeout=5)
        try:
            async with client.stream("GET", url) as response:
                return response.status, await response.read()
        finally:
            await client.close()

    return asyncio.run(run())


def test_a_host_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "_resolve", lambda host, port: ["10.1.2.3"])
    with pytest.raises(DestinationRefused) as refused:
        _get(HttpxOutbound(), "http://registry.example.invalid/v2/")
    assert "10.1.2.3" in refused.value.message and "outbound_allow" in refused.value.message


def test_the_metadata_address_is_refused_even_with_everything_allowed() -> None:
    with pytest.raises(DestinationRefused, match="metadata"):  # refused before any connection is made
        _get(HttpxOutbound(["0.0.0.0/0", "::/0"]), "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(DestinationRefused, match="metadata"):
        HttpxOutbound(["0.0.0.0/0"]).sync_client(timeout=5).stream("GET", "http://169.254.169.254/").__enter__()


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch, echo: int) -> None:
    """No second resolution (DNS rebinding): the name exists only in the guard's resolver, yet it is reached,
    at the checked address, with the name kept in the Host header."""
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(adapter, "_resolve", resolve)
    status, body = _get(HttpxOutbound(["127.0.0.1"]), f"http://rebind.example.invalid:{echo}/")
    assert (status, body) == (200, f"rebind.example.invalid:{echo}".encode())
    assert seen == ["rebind.example.invalid"]
