"""Run blocking store calls off the event loop.

A small thread pool of our own: a call costs one queue put, one thread wake-up and
one `call_soon_threadsafe`, about half of what anyio's `to_thread.run_sync` costs
(capacity limiter, cancel scope, run-vars), and a registry request makes one to
three such calls. Threads start on demand up to MAX_THREADS (anyio's default
limit) and stay; the context (contextvars) of the caller is carried along.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

MAX_THREADS = 40

_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any],
              tuple[Any, ...]]


def _deliver(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():
        return  # the caller was cancelled meanwhile (server shutdown); the result is dropped
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Pool:
    def __init__(self, max_threads: int) -> None:
        self._max = max_threads
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for work minus calls queued for them (negative: a backlog)

    def submit(self, item: _Item) -> None:
        with self._lock:
            start = self._idle <= 0 and self._threads < self._max
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # a waiting thread takes it, or (at the limit) the next one to finish
        self._queue.put(item)
        if start:
            threading.Thread(target=self._run, name="cargohold-blocking", daemon=True).start()

    def _run(self) -> None:
        get = self._queue.get
        while True:
            loop, fut, context, fn, args = get()
            try:
                value = context.run(fn, *args)
                ok = True
            except BaseException as e:  # handed to the awaiting task
                value, ok = e, False
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(_deliver, fut, ok, value)
            del loop, fut, context, fn, args, value
            with self._lock:
                self._idle += 1


_POOL = _Pool(MAX_THREADS)


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `fn` in the worker thread pool (stores and disks block; the loop must not)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()
    call: Callable[..., T] = (lambda: fn(*args, **kwargs)) if kwargs else fn
    _POOL.submit((loop, fut, contextvars.copy_context(), call, () if kwargs else args))
    return await fut
