from __future__ import annotations

import hashlib
import os

import pytest

from cargohold.core.digests import Digest, ResumableHasher
from cargohold.core.errors import DigestInvalid


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_state_round_trip_matches_hashlib(algorithm: str) -> None:
    data = os.urandom(300_000)
    h = ResumableHasher(algorithm)
    h.update(data[:12345])
    state = h.state()
    assert state is not None
    resumed = ResumableHasher.resume(algorithm, h.size, state)
    assert resumed is not None and resumed.size == 12345
    resumed.update(data[12345:])
    assert str(resumed.digest()) == f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()
    # digest() does not disturb the running state
    resumed.update(b"more")
    assert str(resumed.digest()) == f"{algorithm}:" + hashlib.new(algorithm, data + b"more").hexdigest()


def test_foreign_state_is_refused() -> None:
    assert ResumableHasher.resume("sha256", 10, b"other-lib\0" + b"x" * 256) is None
    assert ResumableHasher.resume("sha256", 10, None) is None


@pytest.mark.parametrize("bad", ["", "sha256", "sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64,
                                 "sha512:" + "a" * 64, "sha256:" + "g" * 64])
def test_invalid_digests(bad: str) -> None:
    with pytest.raises(DigestInvalid):
        Digest.parse(bad)


def test_valid_digest() -> None:
    d = Digest.of(b"x", "sha512")
    assert Digest.parse(str(d)) == d
