"""Run blocking store calls off the event loop.

A small thread pool of our own: a call costs one lock release that wakes one idle
thread and one `call_soon_threadsafe`, about half of what anyio's
`to_thread.run_sync` costs (capacity limiter, cancel scope, run-vars); a registry
request makes one to three such calls. Threads start on demand up to the limit and
stay; the caller's context (contextvars) is carried along.

Why not the standard library (benchmarks/blocking_bench.py, BENCHMARKS.md "Thread offload"):
against `loop.run_in_executor` on a ThreadPoolExecutor of the same size it serves
1.3-1.5x the indexed SQLite lookups, 1.3-1.8x a mixed load and 1.1-1.3x latency-bound
calls (a shared queue wakes threads for nothing; here each idle thread sleeps on its own
lock and the most recently busy one is reused). `asyncio.to_thread` runs on
min(32, cpus + 4) threads, 6 on this machine: even on short lookups (0.8-1.1x), but it caps
a PostgreSQL deployment's concurrent queries at 6 (5x fewer 2 ms round trips per second).

The limit is the metadata engine's connection pool (pool_size + max_overflow: app.py calls
`configure(pool_limit(engine))`): more threads would only wait for a connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

MAX_THREADS = 40  # until `configure` sizes the pool to the metadata connection pool (app.py)

_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any],
              tuple[Any, ...]]


def _deliver(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():
        return  # the caller was cancelled meanwhile (server shutdown); the result is dropped
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Worker:
    """A pool thread and the lock it sleeps on: releasing the lock wakes exactly this thread."""

    __slots__ = ("item", "wake")

    def __init__(self, item: _Item | None) -> None:
        self.item = item
        self.wake = threading.Lock()
        self.wake.acquire()


class _Pool:
    """Idle threads wait on their own lock, newest first: a call wakes one thread (a shared
    queue wakes a second one for nothing) and the most recently busy thread is reused."""

    def __init__(self, max_threads: int) -> None:
        self._max = max_threads
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._backlog: collections.deque[_Item] = collections.deque()  # calls waiting for a thread
        self._threads = 0

    def submit(self, item: _Item) -> None:
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
                worker.item = item
                worker.wake.release()
                return
            if self._threads >= self._max:
                self._backlog.append(item)
                return
            self._threads += 1
        threading.Thread(target=self._run, args=(_Worker(item),), name="cargohold-blocking", daemon=True).start()

    def _run(self, worker: _Worker) -> None:
        while True:
            item = worker.item
            worker.item = None
            assert item is not None
            loop, fut, context, fn, args = item
            try:
                value = context.run(fn, *args)
                ok = True
            except BaseException as e:  # handed to the awaiting task
                value, ok = e, False
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(_deliver, fut, ok, value)
            del item, loop, fut, context, fn, args, value
            with self._lock:
                if self._backlog:
                    worker.item = self._backlog.popleft()
                    continue
                self._idle.append(worker)
            worker.wake.acquire()


_POOL = _Pool(MAX_THREADS)


def configure(max_threads: int) -> None:
    """Cap the threads (grows or shrinks the limit; threads already started stay until idle forever)."""
    _POOL._max = max(1, max_threads)


def pool_limit(engine: Any) -> int:
    """The most connections a SQLAlchemy engine's pool hands out at once (pool_size + max_overflow): more
    threads than that would only wait for a connection."""
    pool = engine.pool
    size = pool.size() if callable(getattr(pool, "size", None)) else MAX_THREADS
    return int(size) + max(0, int(getattr(pool, "_max_overflow", 0)))


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `fn` in the worker thread pool (stores and disks block; the loop must not)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()
    call: Callable[..., T] = (lambda: fn(*args, **kwargs)) if kwargs else fn
    _POOL.submit((loop, fut, contextvars.copy_context(), call, () if kwargs else args))
    return await fut
