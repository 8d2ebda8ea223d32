"""In-process scheduler: runs each job at start and then every interval, until shutdown.

Jobs are idempotent, so several workers running the same job is harmless; a
scale-out deployment will coordinate through the database instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("cargohold.jobs")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[], Awaitable[object]]
    interval: float


class Scheduler:
    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"job:{job.name}") for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, job: Job) -> None:
        await asyncio.sleep(random.uniform(0, min(5.0, job.interval)))  # spread workers apart
        while True:
            try:
                result = await job.run()
                log.debug("job %s: %s", job.name, result)
            except Exception:
                log.exception("job %s failed", job.name)
            await asyncio.sleep(job.interval)
