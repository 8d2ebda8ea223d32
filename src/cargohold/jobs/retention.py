"""Deletes untagged manifests past their registry's retention policy (core/retention.py has the rule).

Runs every `job_interval_seconds` in each worker's scheduler. Only one worker on a host sweeps at a time
(a non-blocking lock on `<data-dir>/retention.lock`; the others skip that round). Workers on other hosts
sharing a PostgreSQL database may sweep at once: that is harmless, because each deletion re-checks the
manifest under a row lock and a manifest already gone is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from cargohold.core.ports.records import Registry
from cargohold.core.retention import DueManifest, RetentionStore, SweepResult, sweep
from cargohold.jobs.scheduler import Job

log = logging.getLogger("cargohold.retention")


@contextlib.contextmanager
def _host_lock(path: Path) -> Iterator[bool]:
    """True when this process holds the lock (released on exit); False when another one does."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _log_deleted(registry: Registry, manifest: DueManifest, days: int) -> None:
    log.info("deleted untagged manifest %s/%s@%s (registry %r, policy: untagged for more than %d "
             "day(s))", registry.login_server, manifest.repository, manifest.digest, registry.name, days)


def sweep_once(store: RetentionStore, lock_path: Path) -> SweepResult | None:
    """One sweep, unless another worker on this host is sweeping (None)."""
    with _host_lock(lock_path) as held:
        if not held:
            return None
        return sweep(store, _log_deleted)


def retention_job(store: RetentionStore, data_dir: Path, interval: float) -> Job:
    """The job over `store` (built by the composition root, app.py)."""
    lock_path = data_dir / "retention.lock"

    async def run() -> SweepResult | None:
        result = await asyncio.to_thread(sweep_once, store, lock_path)
        if result is not None and result.deleted:
            log.info("sweep deleted %d untagged manifest(s) in %d registry(ies)", result.deleted,
                     result.registries)
        return result

    return Job("retention", run, interval)
