"""The one error catalogue: every domain error of core/errors.py → (code, HTTP status), for both planes.

/v2/ (api/distribution/errors.py) and /api (api/management/errors.py) render the body and their own
headers (a Bearer or Basic challenge, Retry-After, Content-Range) but take the code and the status from
here, so one error never means two things. A subclass defined elsewhere (e.g. core/usage.py's
StorageQuotaExceeded, core/import_source.py's SourceError) takes its nearest catalogued ancestor's status
and keeps its own code. Imports nothing heavy: a /v2/-only worker loads it.
"""

from __future__ import annotations

from cargohold.core import errors as e

# status per class; the code is the class's own `code` (the OCI / control-plane vocabulary).
STATUS: dict[type[e.RegistryError], int] = {
    e.RegistryError: 400,
    e.BlobUnknown: 404,
    e.BlobUploadInvalid: 400,
    e.BlobUploadUnknown: 404,
    e.RangeInvalid: 416,
    e.RangeNotSatisfiable: 416,
    e.DigestInvalid: 400,
    e.ManifestBlobUnknown: 400,
    e.ManifestInvalid: 400,
    e.ManifestUnknown: 404,
    e.NameInvalid: 400,
    e.NameUnknown: 404,
    e.SizeInvalid: 400,
    e.TagInvalid: 400,
    e.Unsupported: 405,
    e.Denied: 403,
    e.PaginationInvalid: 400,
    # The distribution spec answers a manifest over the registry's limit with 413 Payload Too Large.
    e.TooLarge: 413,
    e.Unauthorized: 401,
    e.TooManyRequests: 429,
    e.NotFound: 404,
    e.Conflict: 409,
    e.InvalidArgument: 400,
    e.DestinationRefused: 403,
}


def status_for(error: e.RegistryError) -> int:
    """The status of `error`: its class's, else its nearest catalogued ancestor's."""
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 400


def code_and_status(error: e.RegistryError) -> tuple[str, int]:
    return error.code, status_for(error)
