"""Manifest parsing and validation: which bytes are a manifest, and what they reference.

Pure functions over bytes; the repository checks (do the references exist?) live
in the manifest service.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from cargohold.core.digests import Digest
from cargohold.core.errors import DigestInvalid, ManifestInvalid, TooLarge

MAX_MANIFEST_BYTES = 4 * 1024 * 1024

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
SUPPORTED_TYPES = IMAGE_TYPES | INDEX_TYPES
# Layers that may live elsewhere (Windows base layers): their bytes need not be in the registry.
NON_DISTRIBUTABLE = frozenset({
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
})


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    digest: Digest
    size: int
    blobs: tuple[str, ...]  # config and layers that must be in the repository
    manifests: tuple[str, ...]  # child manifests that must be in the repository
    declared_sizes: dict[str, int]  # what the descriptors of those references claim
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


def _descriptor(raw: Any, where: str, require_media_type: bool = True) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where} is not a descriptor object")
    media_type = raw.get("mediaType")
    digest = raw.get("digest")
    size = raw.get("size")
    if require_media_type and not isinstance(media_type, str):
        raise ManifestInvalid(f"{where}.mediaType is missing")
    if not isinstance(digest, str):
        raise ManifestInvalid(f"{where}.digest is missing")
    try:
        Digest.parse(digest)
    except DigestInvalid as e:
        raise ManifestInvalid(f"{where}.digest is invalid: {e.message}") from None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
        raise ManifestInvalid(f"{where}.size must be a non-negative 64-bit integer")
    annotations = raw.get("annotations")
    if annotations is not None and not (
        isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
    ):
        raise ManifestInvalid(f"{where}.annotations must map strings to strings")
    artifact_type = raw.get("artifactType")
    return Descriptor(media_type or "", digest, size, artifact_type if isinstance(artifact_type, str) else None,
                      annotations)


# Content types that say "some JSON" rather than which manifest: they contradict no mediaType.
_GENERIC_TYPES = frozenset({"application/json", "application/octet-stream"})


class _Refused(ValueError):
    """Raised from inside the JSON parser's hooks."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _Refused(f"member {repeated[:100]!r} appears more than once (parsers disagree on which wins)")
    return doc


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]!r} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _load_json(body: bytes) -> Any:
    """Strict JSON: no repeated member (at any depth), no NaN/Infinity, no number out of range, no lone
    surrogate; whatever the parser raises (digit limit, nesting depth...) is ManifestInvalid, never a 5xx."""
    try:
        doc = json.loads(body, object_pairs_hook=_unique_members, parse_float=_finite_float,
                         parse_constant=_no_constant)
        if b"\\u" in body:  # an escape may encode a lone surrogate, which no UTF-8 store or encoder accepts
            json.dumps(doc, ensure_ascii=False).encode()
    except _Refused as e:
        raise ManifestInvalid(f"manifest is not acceptable JSON: {e}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # JSONDecodeError and UnicodeError are ValueErrors
        raise ManifestInvalid(f"manifest is not valid JSON: {str(e)[:200]}") from None
    return doc


def parse_manifest(body: bytes, content_type: str | None, digest_algorithm: str = "sha256") -> ParsedManifest:
    """Validate a manifest body and return what it is and references."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise TooLarge(f"manifest is larger than the {MAX_MANIFEST_BYTES} byte limit", {"size": len(body)})
    doc = _load_json(body)
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    declared = doc.get("mediaType")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if doc.get("schemaVersion") == 1 or ctype in DOCKER_SCHEMA1 or declared in DOCKER_SCHEMA1:
        raise ManifestInvalid("Docker schema1 manifests are not supported; push schema2 or OCI")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    media_type = declared or (ctype if ctype in SUPPORTED_TYPES else None)
    if media_type is None:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "config" in doc else None
    if media_type not in SUPPORTED_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {media_type or ctype!r}")
    if declared and ctype and ctype not in _GENERIC_TYPES and ctype != declared:
        raise ManifestInvalid(f"Content-Type {ctype!r} does not match the manifest's mediaType {declared!r}")

    digest = Digest.of(body, digest_algorithm)
    subject = None
    if "subject" in doc:
        subject = _descriptor(doc["subject"], "subject").digest
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType must be a string")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise ManifestInvalid("annotations must map strings to strings")

    blobs: list[str] = []
    manifests: list[str] = []
    sizes: dict[str, int] = {}
    if media_type in IMAGE_TYPES:
        if "manifests" in doc:
            raise ManifestInvalid("an image manifest must not have 'manifests'")
        config = _descriptor(doc.get("config"), "config")
        blobs.append(config.digest)
        sizes[config.digest] = config.size
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestInvalid("layers must be a list")
        for i, raw in enumerate(layers):
            layer = _descriptor(raw, f"layers[{i}]")
            if layer.media_type in NON_DISTRIBUTABLE and isinstance(raw.get("urls"), list):
                continue
            blobs.append(layer.digest)
            if sizes.setdefault(layer.digest, layer.size) != layer.size:
                raise ManifestInvalid(f"layers[{i}] gives {layer.digest} a different size than another descriptor")
        config_type: str | None = config.media_type
    else:
        if "config" in doc or "layers" in doc:
            raise ManifestInvalid("an index must not have 'config' or 'layers'")
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("manifests must be a list")
        for i, raw in enumerate(children):
            child = _descriptor(raw, f"manifests[{i}]")
            manifests.append(child.digest)
            if sizes.setdefault(child.digest, child.size) != child.size:
                raise ManifestInvalid(f"manifests[{i}] gives {child.digest} a different size than another descriptor")
        config_type = None
    return ParsedManifest(
        media_type=media_type,
        digest=digest,
        size=len(body),
        blobs=tuple(dict.fromkeys(blobs)),
        manifests=tuple(dict.fromkeys(manifests)),
        declared_sizes=sizes,
        subject=subject,
        # The referrers API reports artifactType, falling back to the config's media type.
        artifact_type=artifact_type or config_type,
        annotations=annotations,
    )
