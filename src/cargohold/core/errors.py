"""Typed domain errors.

Each carries the OCI distribution error code that names it, because those codes
are the registry's shared vocabulary; the HTTP layer only maps codes to statuses.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    code = "UNKNOWN"
    default_message = "unknown error"

    def __init__(self, message: str | None = None, detail: Any = None) -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)


class BlobUnknown(RegistryError):
    code = "BLOB_UNKNOWN"
    default_message = "blob unknown to registry"


class BlobUploadInvalid(RegistryError):
    code = "BLOB_UPLOAD_INVALID"
    default_message = "blob upload invalid"


class BlobUploadUnknown(RegistryError):
    code = "BLOB_UPLOAD_UNKNOWN"
    default_message = "blob upload unknown to registry"


class RangeInvalid(BlobUploadInvalid):
    """A chunk that does not start where the upload ends (answered with 416)."""

    code = "BLOB_UPLOAD_INVALID"
    default_message = "chunk out of order: the upload does not end where this chunk starts"


class RangeNotSatisfiable(RegistryError):
    code = "RANGE_INVALID"
    default_message = "requested range not satisfiable"

    def __init__(self, size: int, message: str | None = None) -> None:
        super().__init__(message, {"size": size})
        self.size = size


class DigestInvalid(RegistryError):
    code = "DIGEST_INVALID"
    default_message = "provided digest did not match uploaded content"


class ManifestBlobUnknown(RegistryError):
    code = "MANIFEST_BLOB_UNKNOWN"
    default_message = "manifest references a manifest or blob unknown to registry"


class ManifestInvalid(RegistryError):
    code = "MANIFEST_INVALID"
    default_message = "manifest invalid"


class ManifestUnknown(RegistryError):
    code = "MANIFEST_UNKNOWN"
    default_message = "manifest unknown to registry"


class NameInvalid(RegistryError):
    code = "NAME_INVALID"
    default_message = "invalid repository name"


class NameUnknown(RegistryError):
    code = "NAME_UNKNOWN"
    default_message = "repository name not known to registry"


class SizeInvalid(RegistryError):
    code = "SIZE_INVALID"
    default_message = "provided length did not match content length"


class TagInvalid(RegistryError):
    code = "TAG_INVALID"
    default_message = "manifest tag did not match URI"


class Unsupported(RegistryError):
    code = "UNSUPPORTED"
    default_message = "the operation is unsupported"


class Denied(RegistryError):
    code = "DENIED"
    default_message = "requested access to the resource is denied"


class PaginationInvalid(RegistryError):
    code = "PAGINATION_NUMBER_INVALID"
    default_message = "invalid number of results requested"


class TooLarge(RegistryError):
    code = "SIZE_INVALID"
    default_message = "content too large"


class Unauthorized(RegistryError):
    code = "UNAUTHORIZED"
    default_message = "authentication required"


class TooManyRequests(RegistryError):
    code = "TOOMANYREQUESTS"
    default_message = "too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, {"retryAfter": retry_after})
        self.retry_after = retry_after


# --- control plane ------------------------------------------------------------------------------
# Codes of the management API's error JSON (docs/management-api.md): 404, 409 and 400.


class NotFound(RegistryError):
    code = "NOT_FOUND"
    default_message = "not found"


class Conflict(RegistryError):
    code = "CONFLICT"
    default_message = "conflicts with the current state"


class InvalidArgument(RegistryError):
    code = "INVALID_ARGUMENT"
    default_message = "invalid argument"


class DestinationRefused(Denied):
    """An outbound connection (import source, OIDC issuer) to an address the operator has not allowed:
    loopback, link-local, private, unspecified, multicast or a cloud metadata address (SSRF guard)."""

    code = "DENIED"
    default_message = "outbound connection refused"
