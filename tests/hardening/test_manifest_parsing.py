"""Issue 8, holes 2 and 3 at the parser: no manifest body makes `parse_manifest` raise anything but
the ManifestInvalid family (never a 5xx), a repeated member at any depth is refused, and so is a
Content-Type that contradicts the manifest's mediaType."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cargohold.core.errors import DigestInvalid, ManifestInvalid, TooLarge
from cargohold.core.manifest_format import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parse_manifest

CONFIG = "sha256:" + "c" * 64
LAYER = "sha256:" + "a" * 64
ALLOWED = (ManifestInvalid, TooLarge, DigestInvalid)


def image(**extra: object) -> dict[str, object]:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": LAYER, "size": 3}],
            **extra}


GOOD = json.dumps(image()).encode()


def spliced(member: bytes) -> bytes:
    """GOOD with one more top-level member, written as raw JSON text."""
    return GOOD[:-1] + b', "x": ' + member + b"}"


@pytest.mark.parametrize("body", [
    spliced(b"1" * 5000),  # over json's 4300-digit limit
    spliced(b"[" * 100_000 + b"]" * 100_000),  # nesting deeper than the recursion limit
    spliced(b"NaN"),
    spliced(b"-Infinity"),
    spliced(b"1e999"),
    spliced(b'"\\ud800"'),  # a lone surrogate
    GOOD.replace(b'"digest": "sha256:a', b'"digest": "\\udfffsha256:a'),
    b"\xff\xfe" + GOOD,
    GOOD + b"\x00",
], ids=["5000 digits", "deep nesting", "NaN", "-Infinity", "1e999", "lone surrogate", "surrogate digest",
        "not utf-8", "trailing NUL"])
def test_hostile_json_is_manifest_invalid(body: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, OCI_MANIFEST)


@pytest.mark.parametrize("body", [
    GOOD[:-1] + b', "mediaType": "' + OCI_INDEX.encode() + b'"}',  # top level
    json.dumps(image()).replace('"size": 2}', '"size": 2, "size": 3}').encode(),  # inside a descriptor
    json.dumps(image(annotations={"k": "v"})).replace('"k": "v"', '"k": "v", "k": "w"').encode(),
])
def test_repeated_member_is_refused(body: bytes) -> None:
    with pytest.raises(ManifestInvalid, match="more than once"):
        parse_manifest(body, OCI_MANIFEST)


@pytest.mark.parametrize("ctype", [OCI_INDEX, DOCKER_MANIFEST, "text/plain",
                                   "application/vnd.oci.image.config.v1+json"])
def test_contradicting_content_type_is_refused(ctype: str) -> None:
    with pytest.raises(ManifestInvalid, match="does not match"):
        parse_manifest(GOOD, ctype)


@pytest.mark.parametrize("ctype", [OCI_MANIFEST, OCI_MANIFEST + "; charset=utf-8", "application/json", None, ""])
def test_agreeing_or_generic_content_type_is_accepted(ctype: str | None) -> None:
    assert parse_manifest(GOOD, ctype).media_type == OCI_MANIFEST


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def _check(body: bytes, ctype: str | None) -> None:
    with contextlib.suppress(*ALLOWED):  # anything else (a 5xx on the wire) fails the test
        parse_manifest(body, ctype)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([OCI_MANIFEST, OCI_INDEX, None, "text/plain"]))
def test_fuzz_bytes(body: bytes, ctype: str | None) -> None:
    _check(body, ctype)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["schemaVersion", "mediaType", "config", "layers", "manifests", "subject",
                                        "annotations", "artifactType"]), _json), st.data())
def test_fuzz_manifest_shaped(doc: dict[str, object], data: st.DataObject) -> None:
    base = image() if data.draw(st.booleans()) else {}
    base.update(doc)
    body = json.dumps(base).encode()
    if data.draw(st.booleans()):  # splice a hostile token somewhere
        cut = data.draw(st.integers(0, len(body)))
        hostile = data.draw(st.sampled_from([b"NaN", b"1" * 5000, b"\\ud800", b"[" * 3000, b"\xff"]))
        body = body[:cut] + hostile + body[cut:]
    _check(body, data.draw(st.sampled_from([OCI_MANIFEST, OCI_INDEX, None])))
