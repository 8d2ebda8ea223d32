"""Slow and idle clients must not hold a worker's connections (slowloris): uvicorn's httptools
protocol with a request-head deadline, a request-body idle timeout and a cap on open connections.

uvicorn bounds only the idle time between requests (keep-alive). A client that sends a request
head a byte at a time, or declares a body and never sends it, keeps its connection (and, for a
body, the request's task) forever. Here each connection notes when its current head began and when
it last received bytes; one watchdog per worker looks at every connection once a second and cuts
those past a deadline with a 408 (an idle body first makes the app's `receive()` report a
disconnect, so an upload keeps only what it acknowledged). The hot path pays one `loop.time()` per
`data_received`. Beyond `max_connections` a new connection evicts the one that has spent longest
on its request head (the slowest client), so slow clients cannot crowd out quick ones.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

WATCH_INTERVAL = 1.0


def _response(message: str, code: str) -> bytes:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Set the three limits with `configured(...)`; a zero timeout disables that check."""

    header_timeout = 0.0
    body_idle_timeout = 0.0
    max_connections = 0
    _watchdogs: dict[asyncio.AbstractEventLoop, asyncio.TimerHandle] = {}

    @classmethod
    def configured(cls, header_timeout: float, body_idle_timeout: float,
                   max_connections: int) -> type[GuardedHttpToolsProtocol]:
        attrs: dict[str, Any] = {"header_timeout": header_timeout, "body_idle_timeout": body_idle_timeout,
                                 "max_connections": max_connections}
        return type("GuardedHttpToolsProtocol", (cls,), attrs)

    # --- per-connection bookkeeping ------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        now = self.loop.time()
        self.head_started: float | None = now  # waiting for a request head since (None: not)
        self.last_data = now
        if self.loop not in self._watchdogs:
            self._watchdogs[self.loop] = self.loop.call_later(WATCH_INTERVAL, _watch, self.loop, self.connections)
        if self.max_connections and len(self.connections) > self.max_connections:
            self._shed()

    def data_received(self, data: bytes) -> None:
        self.last_data = self.loop.time()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_started = self.last_data

    def on_headers_complete(self) -> None:
        self.head_started = None
        super().on_headers_complete()

    def _shed(self) -> None:
        """Over the cap: close the connection longest on its head (maybe this one, if all are busy)."""
        waiting = [c for c in self.connections
                   if isinstance(c, GuardedHttpToolsProtocol) and c.head_started is not None and c is not self]
        victim = min(waiting, key=lambda c: c.head_started or 0.0) if waiting else self
        victim.cut("too many open connections: this one was slowest to send its request", "TOOMANYREQUESTS")

    # --- deadlines ------------------------------------------------------------------------------

    def check(self, now: float) -> None:
        if self.transport.is_closing():
            return
        if self.head_started is not None:
            if self.header_timeout and now - self.head_started > self.header_timeout:
                self.cut(f"the request head did not arrive within {self.header_timeout:g} s", "UNSUPPORTED")
            return
        cycle = self.cycle
        if not self.body_idle_timeout or cycle is None or cycle.response_complete or not cycle.more_body:
            return
        if self.flow.read_paused:  # the app is not reading yet: not the client's delay
            self.last_data = now
        elif now - self.last_data > self.body_idle_timeout:
            cycle.disconnected = True  # the app's receive() now reports a disconnect
            cycle.message_event.set()
            self.cut(f"the request body stopped arriving: no byte for {self.body_idle_timeout:g} s; "
                     "the request was not applied beyond what was acknowledged", "SIZE_INVALID",
                     respond=not cycle.response_started)

    def cut(self, message: str, code: str, respond: bool = True) -> None:
        self.logger.info("%s:%s - %s", *(self.client or ("?", 0)), message)
        if respond:
            self.transport.write(_response(message, code))
        self.transport.close()


def _watch(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
    now = loop.time()
    for connection in list(connections):
        if isinstance(connection, GuardedHttpToolsProtocol):
            connection.check(now)
    GuardedHttpToolsProtocol._watchdogs[loop] = loop.call_later(WATCH_INTERVAL, _watch, loop, connections)
