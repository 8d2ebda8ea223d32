"""/api/import: copy an image from another registry (`az acr import`), progress streamed as NDJSON.

The source is resolved before the response starts, so a bad source, an unreachable or refusing
source registry, an unknown tag and a target-tag conflict are ordinary JSON errors; once the
response is 200 every outcome, including a failure, is the last NDJSON line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, StrictBool
from starlette.background import BackgroundTask

from cargohold.core.importer import ImportJob, ImportRequest, ImportService

from . import models
from .deps import Context, management, writer

router = APIRouter(tags=["import"])
NDJSON = "application/x-ndjson"


class ImportCreate(models.Request):
    source: str = Field(min_length=1, max_length=1024,
                        description="host[:port]/repository[:tag|@digest]; prefix http:// for a plain-HTTP "
                                    "source (e.g. http://127.0.0.1:5001/library/alpine:3.20). The registry "
                                    "host is required (no implicit docker.io).")
    target_tags: list[str] = Field(min_length=1, max_length=100,
                                   description="repo:tag targets; a bare repo stores the image by digest only")
    username: str | None = Field(default=None, max_length=1024, description="the source registry's username")
    password: str | None = Field(default=None, max_length=8192, description="the source registry's password")
    include_referrers: StrictBool = Field(default=False, description="also copy signatures, SBOMs and other "
                                                                    "referrers of the image and its children")
    force: StrictBool = Field(default=False, description="move a target tag that points at another image")


_EVENTS = ('one JSON object per line: {"event":"start",manifests,blobs,bytes,digest,source}, '
           '{"event":"blob",digest,size,done,mounted}, {"event":"progress",digest,size,received,done}, '
           '{"event":"manifest",digest,mediaType,referrer}, then {"event":"done",digest,tags,repositories,'
           'manifests,blobs,mounted,bytes} or {"event":"error",code,message,detail}')


def importer(request: Request) -> ImportService:
    """The import service the composition root built (the same upload, blob and manifest services pushes
    use, so quota, locks and write-once rules apply; outbound HTTP behind the SSRF guard)."""
    return management(request).importer


async def _lines(job: ImportJob) -> AsyncIterator[bytes]:
    async for event in job.events():
        yield json.dumps(event, separators=(",", ":")).encode() + b"\n"


@router.post("/import", summary="Import an image from another registry (progress as NDJSON)",
             response_class=StreamingResponse,
             responses={200: {"description": _EVENTS, "content": {NDJSON: {"schema": {"type": "string"}}}}})
async def import_image(body: ImportCreate, request: Request, context: Context = Depends(writer)) -> Any:
    job = await importer(request).prepare(context.registry.id, ImportRequest(
        source=body.source, targets=tuple(body.target_tags), username=body.username, password=body.password,
        include_referrers=body.include_referrers, force=body.force))
    # job.close() as a background task too: a client gone before the first line never runs _lines.
    return StreamingResponse(_lines(job), media_type=NDJSON, background=BackgroundTask(job.close),
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
