"""Import: copy an image server-side from another registry (`az acr import`).

Two steps, so a caller hears about every source-side problem before anything is copied:
`ImportService.prepare` validates the targets, reaches the source, resolves the whole manifest tree
(every platform of an index, and the referrers when asked) and checks the target tags; then
`ImportJob.events()` copies, yielding progress events.

Nothing is written unless every byte checked out: blobs are streamed from the source into pending
uploads (the push path: quota, digest verification), hashing as they stream, and only when all of
them arrived with the right size and digest are they committed, the blobs the registry already has
linked, and the manifests stored through ManifestService (children first, the tagged one last), so
repository and tag locks and write-once rules apply exactly as they do to a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from cargohold.core import attributes, tag_rules
from cargohold.core.blobs import BlobService
from cargohold.core.blocking import blocking
from cargohold.core.digests import Digest, is_digest
from cargohold.core.errors import Conflict, InvalidArgument, ManifestInvalid, NotFound, RegistryError
from cargohold.core.import_source import SourceClient, SourceError, SourceRef, parse_source
from cargohold.core.manifest_format import DOCKER_SCHEMA1, OCI_INDEX, ParsedManifest, parse_manifest
from cargohold.core.manifests import ManifestService
from cargohold.core.names import validate_repository_name, validate_tag
from cargohold.core.ports.http import Outbound
from cargohold.core.ports.metadata_store import MetadataStore
from cargohold.core.ports.records import Attributes
from cargohold.core.ports.repository_store import RepositoryStore
from cargohold.core.uploads import UploadService

log = logging.getLogger("cargohold.import")

PROGRESS_EVERY = 8 << 20  # a progress event per this many bytes of one blob
MAX_MANIFESTS = 1000  # manifests one import may copy (an index's children plus referrers)

Event = dict[str, Any]
_RUNNING: set[asyncio.Future[None]] = set()  # imports in progress (strong references)


@dataclass(frozen=True, slots=True)
class Target:
    repository: str
    tag: str | None  # None: stored by digest only

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}" if self.tag else self.repository


def parse_target(text: str) -> Target:
    """`repo:tag`, or a bare `repo` (the image is stored untagged, by digest)."""
    name, colon, tag = text.strip().rpartition(":")
    if colon and "/" not in tag:
        return Target(validate_repository_name(name), validate_tag(tag))
    return Target(validate_repository_name(text.strip()), None)


@dataclass(frozen=True, slots=True)
class ImportRequest:
    source: str
    targets: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    include_referrers: bool = False
    force: bool = False


@dataclass(frozen=True, slots=True)
class SourceManifest:
    digest: str
    media_type: str
    body: bytes
    parsed: ParsedManifest
    referrer: bool = False


@dataclass(slots=True)
class ImportPlan:
    """What the source holds, in the order it must be stored: a manifest after what it references."""

    top: SourceManifest
    manifests: list[SourceManifest] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)  # digest -> size, first-seen order
    present: set[str] = field(default_factory=set)  # blobs the target registry already holds

    @property
    def total_bytes(self) -> int:
        return sum(self.blobs.values())


class ImportService:
    def __init__(self, metadata: MetadataStore, blobs: BlobService, uploads: UploadService,
                 manifests: ManifestService, http: Outbound, repositories: RepositoryStore | None = None,
                 source_timeout: float = 30.0) -> None:
        self.metadata = metadata
        self.blobs = blobs
        self.uploads = uploads
        self.manifests = manifests
        self.repositories = repositories  # tag locks and write-once rules, checked before copying
        self.source_timeout = source_timeout
        self.http = http  # outbound HTTP, behind the SSRF guard (adapters/http.py)

    async def prepare(self, registry_id: int, request: ImportRequest) -> ImportJob:
        """Check everything that can be checked before copying; the job owns the source connection."""
        source = parse_source(request.source)
        if not request.targets:
            raise InvalidArgument("give at least one target image (repo:tag)", {"targetTags": []})
        targets = tuple(dict.fromkeys(parse_target(t) for t in request.targets))
        if request.password is not None and request.username is None:
            raise InvalidArgument("a source password needs a source username", {"username": None})
        client = SourceClient(source, self.http, request.username, request.password, self.source_timeout)
        try:
            await client.ping()
            plan = await _resolve(client, source, request.include_referrers)
            await self._check_targets(registry_id, targets, plan.top.digest, request.force)
            for digest in plan.blobs:
                if await blocking(self.metadata.blob_size, registry_id, digest) is not None:
                    plan.present.add(digest)
            await self._check_quota(registry_id, plan)
        except BaseException:
            await client.close()
            raise
        return ImportJob(self, registry_id, source, targets, plan, client)

    async def _check_targets(self, registry_id: int, targets: tuple[Target, ...], digest: str, force: bool
                             ) -> None:
        """Refuse now what storing the manifests would refuse later (the store checks again, atomically):
        a write-locked repository or tag, a write-once tag (403, naming the lock or rule); and, without
        force, a tag that points at another image (409)."""
        rules: list[tag_rules.Rule] | None = None
        for target in targets:
            await self.manifests.locks.check_writable(registry_id, target.repository)
            if target.tag is None:
                continue
            current = await self._current(registry_id, target)
            if current is None or current[0] == digest:
                continue
            if current[1] is not None:
                attributes.check_tag_move(target.repository, target.tag, current[1], current[0], digest)
            if self.repositories is not None:
                if rules is None:
                    rules = [tag_rules.Rule(r.id, r.repository, r.pattern)
                             for r in await blocking(self.repositories.tag_rules, registry_id)]
                tag_rules.check_move(rules, target.repository, target.tag, current[0], digest)
            if not force:
                raise Conflict(f"target tag {target} already points at {current[0]}; import with force to move it",
                               {"tag": str(target), "digest": current[0]})

    async def _check_quota(self, registry_id: int, plan: ImportPlan) -> None:
        """The blobs to download must fit the hard storage quota as a whole (403 naming it): blobs are
        committed one by one, and the commit-time check alone would let the first few in."""
        guard = self.uploads.quota
        needed = sum(size for digest, size in plan.blobs.items() if digest not in plan.present)
        if self.uploads.space is not None and needed:  # nor may they eat the free-space reserve (issue 9)
            self.uploads.space.check(needed)
        if guard is None:
            return
        room = await blocking(guard.room, registry_id)
        if room is not None and room[0] + needed > room[1]:
            raise guard.refuse(registry_id, room[0], room[1], needed)

    async def _current(self, registry_id: int, target: Target) -> tuple[str, Attributes | None] | None:
        """The digest a target tag names now (and the tag's attributes when they are known), or None."""
        assert target.tag is not None
        if self.repositories is not None:
            info = await blocking(self.repositories.tag, registry_id, target.repository, target.tag)
            return None if info is None else (info.digest, info.attributes)
        record = await blocking(self.metadata.get_manifest_by_tag, registry_id, target.repository, target.tag)
        return None if record is None else (record.digest, None)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A blob streamed into an upload that is not committed yet."""

    digest: str
    size: int
    upload_id: str


class ImportJob:
    """A prepared import. Iterate `events()` exactly once (it closes the source connection), or `close()`."""

    def __init__(self, service: ImportService, registry_id: int, source: SourceRef, targets: tuple[Target, ...],
                 plan: ImportPlan, client: SourceClient) -> None:
        self.service = service
        self.registry_id = registry_id
        self.source = source
        self.targets = targets
        self.plan = plan
        self._client = client
        self._pending: list[_Pending] = []
        self._done = 0
        self._transferred = 0

    @property
    def digest(self) -> str:
        return self.plan.top.digest

    def start_event(self) -> Event:
        return {"event": "start", "source": str(self.source), "digest": self.digest,
                "manifests": len(self.plan.manifests), "blobs": len(self.plan.blobs),
                "bytes": self.plan.total_bytes}

    async def close(self) -> None:
        await self._client.close()

    async def events(self) -> AsyncIterator[Event]:
        """start, blob/progress per blob, manifest per manifest, then done or error (always last)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        task = asyncio.ensure_future(self._run(queue.put_nowait))
        _RUNNING.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_RUNNING.discard)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            # The reader left (or failed): stop the copy. Its own cleanup (pending uploads, the source
            # connection) runs in the task; shield it, or the server's repeated cancellation of this
            # request would be forwarded into the task and cut that cleanup short.
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(task)

    async def _run(self, emit: Callable[[Event | None], None]) -> None:
        try:
            emit(self.start_event())
            await self._fetch_blobs(emit)
            await self._commit_blobs()
            for manifest in self.plan.manifests:
                await self._store(manifest)
                emit({"event": "manifest", "digest": manifest.digest, "mediaType": manifest.media_type,
                      "referrer": manifest.referrer})
            tags = [str(t) for t in self.targets if t.tag is not None]
            emit({"event": "done", "digest": self.digest, "tags": tags,
                  "repositories": list(dict.fromkeys(t.repository for t in self.targets)),
                  "manifests": len(self.plan.manifests), "blobs": len(self.plan.blobs),
                  "mounted": len(self.plan.present), "bytes": self._transferred})
        except RegistryError as exc:
            emit({"event": "error", "code": exc.code, "message": exc.message, "detail": exc.detail})
        except Exception as exc:  # the stream has started: report, never drop the connection silently
            space = self.service.uploads.space
            full = space.translate(exc) if space is not None else None
            if full is not None:
                emit({"event": "error", "code": full.code, "message": full.message, "detail": full.detail})
            else:
                log.exception("import from %s failed", self.source, exc_info=exc)
                emit({"event": "error", "code": "UNKNOWN", "message": f"import failed: {type(exc).__name__}"})
        finally:
            await self._cancel_pending()
            await self._client.close()
            emit(None)

    async def _fetch_blobs(self, emit: Callable[[Event | None], None]) -> None:
        repository = self.targets[0].repository
        for digest, size in self.plan.blobs.items():
            mounted = digest in self.plan.present
            if not mounted:
                await self._download(repository, digest, size, emit)
            self._done += size
            emit({"event": "blob", "digest": digest, "size": size, "done": self._done, "mounted": mounted})

    async def _download(self, repository: str, digest: str, size: int, emit: Callable[[Event | None], None]) -> None:
        uploads = self.service.uploads
        record = await uploads.start(self.registry_id, repository, Digest.parse(digest).algorithm)
        self._pending.append(_Pending(digest, size, record.id))
        expected = Digest.parse(digest)
        hasher = hashlib.new(expected.algorithm)
        received = 0
        reported = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal received, reported
            async with self._client.blob(digest) as chunks:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > size:
                        raise SourceError(f"the source sent more than the {size} bytes its manifest declares for "
                                          f"blob {digest}; refused, nothing was written", {"digest": digest})
                    hasher.update(chunk)
                    if received - reported >= PROGRESS_EVERY:
                        reported = received
                        emit({"event": "progress", "digest": digest, "size": size, "received": received,
                              "done": self._done + received})
                    yield chunk
            if received != size:
                raise SourceError(f"the source sent {received} bytes for blob {digest}, whose descriptor says "
                                  f"{size}; refused, nothing was written", {"digest": digest})
            actual = f"{expected.algorithm}:{hasher.hexdigest()}"
            if actual != digest:
                raise SourceError(f"the source sent bytes for blob {digest} that hash to {actual}; refused, "
                                  "nothing was written", {"digest": digest, "actual": actual})

        # One call streams the whole blob: `append` hands ~1 MiB batches to a worker thread as they arrive.
        await uploads.append(self.registry_id, repository, record.id, body(), length=size)
        self._transferred += size

    async def _commit_blobs(self) -> None:
        """Every byte checked out: commit the uploads, then link each blob into every target repository."""
        uploads = self.service.uploads
        first = self.targets[0].repository
        while self._pending:
            blob = self._pending[0]
            await uploads.complete(self.registry_id, first, blob.upload_id, blob.digest)
            self._pending.pop(0)
        for repository in dict.fromkeys(t.repository for t in self.targets):
            for digest, size in self.plan.blobs.items():
                if repository == first and digest not in self.plan.present:
                    continue
                linked = await self.service.blobs.mount(self.registry_id, repository, digest, None, lambda _: True)
                if linked is None:
                    raise Conflict(f"blob {digest} disappeared from the registry during the import; retry",
                                   {"digest": digest})
                if linked != size:
                    raise ManifestInvalid(f"the registry holds blob {digest} with {linked} bytes, the source "
                                          f"declares {size}", {"digest": digest})

    async def _store(self, manifest: SourceManifest) -> None:
        manifests = self.service.manifests
        for repository in dict.fromkeys(t.repository for t in self.targets):
            tags = [t.tag for t in self.targets if t.repository == repository and t.tag is not None]
            if manifest is self.plan.top and tags:
                for tag in tags:
                    await manifests.put(self.registry_id, repository, tag, manifest.body, manifest.media_type)
            else:
                await manifests.put(self.registry_id, repository, manifest.digest, manifest.body,
                                    manifest.media_type)

    async def _cancel_pending(self) -> None:
        first = self.targets[0].repository
        for blob in self._pending:
            with contextlib.suppress(Exception):
                await self.service.uploads.cancel(self.registry_id, first, blob.upload_id)
        self._pending.clear()


# --- resolving the source -------------------------------------------------------------------------


async def _resolve(client: SourceClient, source: SourceRef, include_referrers: bool) -> ImportPlan:
    top = await _fetch(client, source.reference, top=True)
    plan = ImportPlan(top)
    seen: set[str] = set()
    await _add_tree(client, plan, top, seen, include_referrers)
    return plan


async def _fetch(client: SourceClient, reference: str, top: bool = False, referrer: bool = False
                 ) -> SourceManifest:
    fetched = await client.manifest(reference)
    where = f"{client.ref.host}/{client.ref.repository}"
    if fetched is None:
        what = "tag" if not is_digest(reference) else "manifest"
        raise NotFound(f"the source registry has no {what} {reference} in {where}" if top else
                       f"the source registry lacks manifest {reference} (referenced from {where})",
                       {"source": str(client.ref), "reference": reference})
    if fetched.media_type in DOCKER_SCHEMA1:
        raise SourceError(f"{where}:{reference} is a Docker schema1 manifest, which Cargohold does not store; "
                          "re-push it as schema2 or OCI at the source", {"source": str(client.ref)})
    try:
        parsed = parse_manifest(fetched.body, fetched.media_type, Digest.parse(fetched.digest).algorithm)
    except RegistryError as exc:
        raise SourceError(f"the source's manifest {reference} cannot be imported: {exc.message}",
                          {"source": str(client.ref), "reference": reference}) from None
    return SourceManifest(fetched.digest, parsed.media_type, fetched.body, parsed, referrer)


async def _add_tree(client: SourceClient, plan: ImportPlan, manifest: SourceManifest, seen: set[str],
                    include_referrers: bool) -> None:
    """Post-order: children, then this manifest, then (when asked) its referrers and theirs."""
    if manifest.digest in seen:
        return
    seen.add(manifest.digest)
    if len(seen) > MAX_MANIFESTS:
        raise InvalidArgument(f"the source image has more than {MAX_MANIFESTS} manifests; refused",
                              {"limit": MAX_MANIFESTS})
    for child_digest in manifest.parsed.manifests:
        child = await _fetch(client, child_digest, referrer=manifest.referrer)
        await _add_tree(client, plan, child, seen, include_referrers)
    for blob in manifest.parsed.blobs:
        plan.blobs.setdefault(blob, manifest.parsed.declared_sizes[blob])
    plan.manifests.append(manifest)
    if include_referrers:
        for descriptor in await _referrers(client, manifest.digest):
            digest = descriptor.get("digest")
            if isinstance(digest, str) and is_digest(digest) and digest not in seen:
                await _add_tree(client, plan, await _fetch(client, digest, referrer=True), seen, include_referrers)


async def _referrers(client: SourceClient, digest: str) -> list[dict[str, Any]]:
    """The referrers API, or the OCI 1.1 fallback: an index tagged `<alg>-<hex>`."""
    found = await client.referrers(digest)
    if found is not None:
        return found
    fallback = await client.manifest(digest.replace(":", "-", 1))
    if fallback is None:
        return []
    try:
        parsed = parse_manifest(fallback.body, fallback.media_type or OCI_INDEX)
    except RegistryError:
        return []
    return [{"digest": d} for d in parsed.manifests]
