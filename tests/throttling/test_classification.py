"""Which bucket each /v2/ route takes from (the route table is the single place that says so)."""

from __future__ import annotations

import pytest

from cargohold.api.distribution import routes
from cargohold.core.throttling import DELETES, READS, REFERRERS, WRITES

D = "sha256:" + "0" * 64
CASES = [
    ("GET", "lib/app/manifests/v1", READS), ("HEAD", "lib/app/manifests/v1", READS),
    ("GET", f"lib/app/blobs/{D}", READS), ("HEAD", f"lib/app/blobs/{D}", READS),
    ("GET", "lib/app/tags/list", READS),
    ("GET", f"lib/app/referrers/{D}", REFERRERS),
    ("PUT", "lib/app/manifests/v1", WRITES),
    ("POST", "lib/app/blobs/uploads/", WRITES), ("PATCH", "lib/app/blobs/uploads/abc", WRITES),
    ("PUT", "lib/app/blobs/uploads/abc", WRITES), ("GET", "lib/app/blobs/uploads/abc", WRITES),
    ("DELETE", "lib/app/blobs/uploads/abc", WRITES),  # cancelling an upload is part of a push
    ("DELETE", "lib/app/manifests/v1", DELETES), ("DELETE", f"lib/app/blobs/{D}", DELETES),
]


@pytest.mark.parametrize(("method", "path", "bucket"), CASES)
def test_route_bucket(method: str, path: str, bucket: str) -> None:
    for pattern, methods in routes._TABLE:
        if pattern.match(path):
            assert methods[method][2] == bucket
            return
    raise AssertionError(f"no route for {path}")


def test_every_route_has_a_bucket() -> None:
    for _pattern, methods in routes._TABLE:
        for _handler, _actions, bucket in methods.values():
            assert bucket in (READS, WRITES, DELETES, REFERRERS)
