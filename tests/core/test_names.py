from __future__ import annotations

import pytest

from cargohold.core.errors import NameInvalid, TagInvalid
from cargohold.core.names import validate_repository_name, validate_tag


@pytest.mark.parametrize("name", ["a", "a/b", "library/ubuntu", "a__b", "a--b", "a.b-c_d/e", "0/1/2"])
def test_good_names(name: str) -> None:
    assert validate_repository_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/", "/a", "a//b", "a_", "-a", "a___b", "a..b", "a" * 256, "a b"])
def test_bad_names(name: str) -> None:
    with pytest.raises(NameInvalid):
        validate_repository_name(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.c", "a" * 128])
def test_good_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b"])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(TagInvalid):
        validate_tag(tag)
