from __future__ import annotations

import pytest

from cargohold.core.blobs import ByteRange, resolve_range
from cargohold.core.errors import RangeNotSatisfiable


@pytest.mark.parametrize("header,expected", [
    (None, None),
    ("bytes=0-9", ByteRange(0, 9)),
    ("bytes=10-", ByteRange(10, 99)),
    ("bytes=-10", ByteRange(90, 99)),
    ("bytes=90-1000", ByteRange(90, 99)),
    ("bytes=0-1,5-6", None),  # several ranges: the whole blob
    ("items=0-1", None),
    ("bytes=abc", None),
    ("bytes=5-2", None),
])
def test_ranges(header: str | None, expected: ByteRange | None) -> None:
    assert resolve_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        resolve_range(header, 100)
