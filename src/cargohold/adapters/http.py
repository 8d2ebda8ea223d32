"""The outbound HTTP port (core/ports/http.py) on httpx, with the SSRF guard.

The guard sits in httpcore's network backend, the one place a TCP connection is made: it resolves the
host itself, checks every address, and connects to an address it checked (never to the name, so DNS
cannot answer differently between the check and the connect). Every redirect hop opens its connection
there too, so each hop is checked. Proxies from the environment are ignored (a proxy would be the
address connected to). TLS still verifies the certificate against the host name.

Refused unless allow-listed (setting `outbound_allow`, env CARGOHOLD_OUTBOUND_ALLOW): loopback,
link-local (169.254.0.0/16, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7), shared address
space (100.64/10), unspecified, multicast, reserved and every other non-global address. An entry is a
CIDR, an address or a host name (a listed host name allows whatever it resolves to). Cloud metadata
addresses (169.254.169.254, fd00:ec2::254, 169.254.170.2, 100.100.100.200) stay refused even inside an
allowed CIDR or behind an allowed host name: only an entry naming the address itself (or its /32,
/128) allows one, so `0.0.0.0/0` never opens the instance's credentials.

httpx is imported on first use: a worker that never imports or federates does not load it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from cargohold.core.errors import DestinationRefused
from cargohold.core.ports.http import TransportError

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SETTING = "CARGOHOLD_OUTBOUND_ALLOW"
METADATA = frozenset(ipaddress.ip_address(a) for a in
                     ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _kind(ip: IPAddress) -> str | None:
    """Why `ip` is not an ordinary internet destination (None when it is)."""
    if ip in METADATA:
        return "a cloud metadata address"
    checks = [("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified), ("link-local", ip.is_link_local),
              ("multicast", ip.is_multicast), ("shared address space (100.64.0.0/10)", ip in _SHARED),
              ("private", ip.is_private), ("reserved", ip.is_reserved), ("not globally routable", not ip.is_global)]
    return next((name for name, hit in checks if hit), None)


class Guard:
    """Which resolved addresses an outbound connection may use."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.networks: list[IPNetwork] = []
        self.exact: set[IPAddress] = set()
        self.hosts: set[str] = set()
        for entry in (a.strip() for a in allow):
            if not entry:
                continue
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))
                continue
            self.networks.append(net)
            if net.num_addresses == 1:
                self.exact.add(net.network_address)

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        """None when `host` at `ip` may be connected to, else why not."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        kind = _kind(ip)
        if kind is None or ip in self.exact:
            return None
        if ip not in METADATA and (host.lower().rstrip(".") in self.hosts or any(ip in n for n in self.networks)):
            return None
        shown = ip if host == str(ip) else f"{host} ({ip})"
        extra = " (metadata addresses are allowed only by naming the address itself)" if ip in METADATA else ""
        return (f"refused to connect to {shown}: {kind}; an operator may allow it with the setting outbound_allow "
                f"({SETTING}){extra}")

    def choose(self, host: str, addresses: list[str]) -> list[str]:
        """The addresses of `host` that may be used, in resolver order; raises DestinationRefused if none."""
        allowed: list[str] = []
        first_refusal: str | None = None
        for text in dict.fromkeys(addresses):
            why = self.refusal(host, ipaddress.ip_address(text.split("%")[0]))
            if why is None:
                allowed.append(text)
            elif first_refusal is None:
                first_refusal = why
        if not allowed:
            raise DestinationRefused(first_refusal or f"{host} resolved to no address",
                                     {"host": host, "addresses": addresses[:8], "setting": "outbound_allow"})
        return allowed


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _resolve(host: str, port: int) -> list[str]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise TransportError(f"cannot resolve {host}: {e}") from None
    return [str(info[4][0]) for info in infos]


@cache
def _backends() -> tuple[type, type]:
    """The guarded httpcore backends (classes built on first use, so importing this module is cheap)."""
    import httpcore

    class AsyncGuarded(httpcore.AsyncNetworkBackend):
        def __init__(self, guard: Guard) -> None:
            self.guard = guard
            self.inner = httpcore.AnyIOBackend()

        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                              local_address: str | None = None, socket_options: Any = None
                              ) -> httpcore.AsyncNetworkStream:
            addresses = await asyncio.get_running_loop().run_in_executor(None, _resolve, host, port)
            last: Exception | None = None
            for ip in self.guard.choose(host, addresses):
                try:
                    return await self.inner.connect_tcp(ip, port, timeout, local_address, socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                    last = e
            assert last is not None
            raise last

        async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None
                                      ) -> httpcore.AsyncNetworkStream:
            raise DestinationRefused("outbound connections to unix sockets are refused")

        async def sleep(self, seconds: float) -> None:
            await self.inner.sleep(seconds)

    class SyncGuarded(httpcore.NetworkBackend):
        def __init__(self, guard: Guard) -> None:
            self.guard = guard
            self.inner = httpcore.SyncBackend()

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
            last: Exception | None = None
            for ip in self.guard.choose(host, _resolve(host, port)):
                try:
                    return self.inner.connect_tcp(ip, port, timeout, local_address, socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                    last = e
            assert last is not None
            raise last

        def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None
                                ) -> httpcore.NetworkStream:
            raise DestinationRefused("outbound connections to unix sockets are refused")

    return AsyncGuarded, SyncGuarded


def _transport_error(e: Exception) -> TransportError:
    return TransportError(f"{type(e).__name__}: {e}".rstrip(": "))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._r = response

    @property
    def status(self) -> int:
        return self._r.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self._r.headers.get(name)
        return value

    async def chunks(self, *, raw: bool = False) -> AsyncIterator[bytes]:
        import httpx

        try:
            async for chunk in (self._r.aiter_raw() if raw else self._r.aiter_bytes()):
                yield chunk
        except httpx.HTTPError as e:
            raise _transport_error(e) from None

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


class _Client:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._c = client

    @asynccontextmanager
    async def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                     params: Mapping[str, str] | None = None, basic_auth: tuple[str, str] | None = None
                     ) -> AsyncIterator[_Response]:
        import httpx

        try:
            request = self._c.build_request(method, url, headers=dict(headers or {}), params=params)
            response = await self._c.send(request, stream=True,
                                          auth=httpx.BasicAuth(*basic_auth) if basic_auth else None)
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise _transport_error(e) from None
        try:
            yield _Response(response)
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self._c.aclose()


class _SyncResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._r = response

    @property
    def status(self) -> int:
        return self._r.status_code

    def chunks(self) -> Iterator[bytes]:
        import httpx

        try:
            yield from self._r.iter_bytes()
        except httpx.HTTPError as e:
            raise _transport_error(e) from None


class _SyncClient:
    def __init__(self, client: httpx.Client) -> None:
        self._c = client

    @contextmanager
    def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None) -> Iterator[_SyncResponse]:
        import httpx

        try:
            with self._c.stream(method, url, headers=dict(headers or {})) as response:
                yield _SyncResponse(response)
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise _transport_error(e) from None

    def close(self) -> None:
        self._c.close()


class HttpxOutbound:
    """core.ports.http.Outbound on httpx. `transport`/`sync_transport` replace the network (tests only:
    a mock transport connects nowhere, so the guard does not apply to it)."""

    def __init__(self, allow: Iterable[str] = (), *, transport: httpx.AsyncBaseTransport | None = None,
                 sync_transport: httpx.BaseTransport | None = None) -> None:
        self.guard = Guard(allow)
        self._transport = transport
        self._sync_transport = sync_transport

    def _async_transport(self) -> httpx.AsyncBaseTransport:
        import httpcore
        import httpx

        if self._transport is not None:
            return self._transport
        transport = httpx.AsyncHTTPTransport(trust_env=False)
        # Same pool httpx builds, on the guarded backend (httpx offers no public hook for the backend).
        transport._pool = httpcore.AsyncConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                                       network_backend=_backends()[0](self.guard))
        return transport

    def _blocking_transport(self) -> httpx.BaseTransport:
        import httpcore
        import httpx

        if self._sync_transport is not None:
            return self._sync_transport
        transport = httpx.HTTPTransport(trust_env=False)
        transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                                  network_backend=_backends()[1](self.guard))
        return transport

    def client(self, *, base_url: str = "", timeout: float, follow_redirects: bool = False,
               headers: Mapping[str, str] | None = None) -> _Client:
        import httpx

        return _Client(httpx.AsyncClient(base_url=base_url, follow_redirects=follow_redirects, trust_env=False,
                                         timeout=httpx.Timeout(timeout), headers=dict(headers or {}),
                                         transport=self._async_transport()))

    def sync_client(self, *, timeout: float, follow_redirects: bool = False,
                    headers: Mapping[str, str] | None = None) -> _SyncClient:
        import httpx

        return _SyncClient(httpx.Client(follow_redirects=follow_redirects, trust_env=False,
                                        timeout=httpx.Timeout(timeout), headers=dict(headers or {}),
                                        transport=self._blocking_transport()))
