"""Run blocking store calls off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from anyio.to_thread import run_sync

P = ParamSpec("P")
T = TypeVar("T")


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `fn` in the worker thread pool (stores and disks block; the loop must not)."""
    if kwargs:
        return await run_sync(lambda: fn(*args, **kwargs))
    return await run_sync(fn, *args)
