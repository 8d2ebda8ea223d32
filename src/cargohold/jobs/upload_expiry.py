"""Removes uploads abandoned for longer than the configured expiry, and their bytes."""

from __future__ import annotations

import logging
from datetime import timedelta

from cargohold.core.uploads import UploadService
from cargohold.jobs.scheduler import Job

log = logging.getLogger("cargohold.jobs.upload_expiry")


def upload_expiry_job(uploads: UploadService, max_idle: timedelta, interval: float) -> Job:
    async def run() -> int:
        removed = await uploads.expire(max_idle)
        if removed:
            log.info("expired %d abandoned upload(s)", removed)
        return removed

    return Job("upload-expiry", run, interval)
