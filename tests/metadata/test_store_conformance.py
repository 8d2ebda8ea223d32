"""One conformance test for the MetadataStore: SQLite always, PostgreSQL when CARGOHOLD_TEST_DATABASE_URL is set."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cargohold.core.ports.records import NewManifest, UploadRecord
from cargohold.metadata.sql import SqlMetadataStore
from support import fresh_metadata_store

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
M1 = "sha256:" + "a" * 64
M2 = "sha256:" + "b" * 64


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    with fresh_metadata_store(tmp_path) as s:
        yield s


@pytest.fixture()
def reg(store: SqlMetadataStore) -> int:
    return store.ensure_registry("cargohold", "127.0.0.1:5000").id


def manifest(digest: str, blobs: tuple[str, ...] = (), manifests: tuple[str, ...] = (),
             subject: str | None = None, artifact_type: str | None = None) -> NewManifest:
    return NewManifest(digest, "application/vnd.oci.image.manifest.v1+json", artifact_type, subject,
                       {"k": "v"} if subject else None, b'{"m":"' + digest.encode() + b'"}', blobs, manifests)


def test_registry_is_created_once(store: SqlMetadataStore) -> None:
    a = store.ensure_registry("cargohold", "h:1")
    b = store.ensure_registry("cargohold", "h:2")
    assert a == b
    assert store.get_registry("cargohold") == a
    assert store.get_registry("other") is None


def test_blobs_are_linked_per_repository(store: SqlMetadataStore, reg: int) -> None:
    store.add_blob(reg, "a/one", D1, 10)
    assert store.repository_blob_size(reg, "a/one", D1) == 10
    assert store.repository_blob_size(reg, "a/two", D1) is None
    assert store.blob_size(reg, D1) == 10
    assert store.link_blob(reg, "a/two", D1) == 10
    assert store.repository_blob_size(reg, "a/two", D1) == 10
    assert store.link_blob(reg, "a/two", D2) is None
    assert store.unlink_blob(reg, "a/one", D1)
    assert not store.unlink_blob(reg, "a/one", D1)
    assert store.repository_blob_size(reg, "a/one", D1) is None
    assert store.repository_blob_size(reg, "a/two", D1) == 10


def test_rows_are_scoped_by_registry(store: SqlMetadataStore, reg: int) -> None:
    other = store.ensure_registry("another1", "other:5000").id
    store.add_blob(reg, "r", D1, 1)
    store.put_manifest(reg, "r", manifest(M1, blobs=(D1,)), "v1")
    assert store.repository_blob_size(other, "r", D1) is None
    assert store.get_manifest_by_tag(other, "r", "v1") is None
    assert store.list_repositories(other, None, None) == []
    assert store.link_blob(other, "r", D1) is None


def test_manifests_tags_and_references(store: SqlMetadataStore, reg: int) -> None:
    store.add_blob(reg, "r", D1, 1)
    assert store.reference_sizes(reg, "r", (D1, D2), (M2,)) == {D1: 1}
    assert store.reference_sizes(reg, "nope", (D1,), ()) == {}
    store.put_manifest(reg, "r", manifest(M1, blobs=(D1,)), "v1")
    assert store.reference_sizes(reg, "r", (), (M1, M2)) == {M1: len(manifest(M1).content)}
    got = store.get_manifest_by_tag(reg, "r", "v1")
    assert got is not None and got.digest == M1 and got.content.startswith(b'{"m"')
    assert store.get_manifest_by_digest(reg, "r", M1) == got
    store.put_manifest(reg, "r", manifest(M2, manifests=(M1,)), "v1")  # tag moves
    assert store.get_manifest_by_tag(reg, "r", "v1").digest == M2  # type: ignore[union-attr]
    assert store.get_manifest_by_digest(reg, "r", M1) is not None  # old one stays, untagged
    store.put_manifest(reg, "r", manifest(M1, blobs=(D1,)), "v1")  # re-push moves it back, no error
    assert store.get_manifest_by_tag(reg, "r", "v1").digest == M1  # type: ignore[union-attr]
    assert store.delete_tag(reg, "r", "v1")
    assert not store.delete_tag(reg, "r", "v1")
    assert store.get_manifest_by_digest(reg, "r", M1) is not None
    store.put_manifest(reg, "r", manifest(M1, blobs=(D1,)), "v2")
    assert store.delete_manifest(reg, "r", M1)
    assert store.get_manifest_by_tag(reg, "r", "v2") is None
    assert not store.delete_manifest(reg, "r", M1)


def test_listing_is_lexical_and_paginated(store: SqlMetadataStore, reg: int) -> None:
    names = ["b", "a", "Z", "a-1", "a.b", "_x", "10", "9"]
    for t in names:
        store.put_manifest(reg, "r", manifest(M1), t)
    assert store.list_tags(reg, "r", None, None) == sorted(names)
    assert store.list_tags(reg, "r", "a", 2) == sorted(names)[sorted(names).index("a") + 1:][:2]
    assert store.list_tags(reg, "missing", None, None) is None
    for repo in ["z/y", "a/b", "a", "m"]:
        store.put_manifest(reg, repo, manifest(M1), "t")
    assert store.list_repositories(reg, None, None) == ["a", "a/b", "m", "r", "z/y"]
    assert store.list_repositories(reg, "a/b", 2) == ["m", "r"]
    assert store.repository_exists(reg, "m") and not store.repository_exists(reg, "q")


def test_referrers(store: SqlMetadataStore, reg: int) -> None:
    store.put_manifest(reg, "r", manifest(M1), None)
    store.put_manifest(reg, "r", manifest(M2, subject=M1, artifact_type="application/x-sig"), None)
    store.put_manifest(reg, "r", manifest(D3, subject=M1, artifact_type="application/x-sbom"), None)
    refs = store.list_referrers(reg, "r", M1, None)
    assert {r.digest for r in refs} == {M2, D3}
    assert refs[0].annotations == {"k": "v"}
    only = store.list_referrers(reg, "r", M1, "application/x-sbom")
    assert [r.digest for r in only] == [D3]
    assert store.list_referrers(reg, "r", M2, None) == []
    assert store.list_referrers(reg, "other", M1, None) == []


def test_upload_compare_and_set(store: SqlMetadataStore, reg: int) -> None:
    old = datetime.now(UTC) - timedelta(days=2)
    store.create_upload(UploadRecord("u1", reg, "r", 0, "sha256", None, old, old))
    assert store.get_upload(reg, "r", "u1") is not None
    assert store.get_upload(reg, "other", "u1") is None  # bound to its repository
    assert store.uploads_idle_since(datetime.now(UTC) - timedelta(days=1)) == ["u1"]
    assert store.advance_upload("u1", 0, 5, b"state")
    assert not store.advance_upload("u1", 0, 7, None)
    up = store.get_upload(reg, "r", "u1")
    assert up is not None and up.size == 5 and up.hash_state == b"state"
    assert store.uploads_idle_since(datetime.now(UTC) - timedelta(days=1)) == []
    assert store.upload_exists("u1")
    assert store.delete_upload("u1") and not store.upload_exists("u1")


def test_concurrent_writers_do_not_fail(store: SqlMetadataStore, reg: int) -> None:
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            for j in range(10):
                digest = f"sha256:{i:032d}{j:032d}"
                store.add_blob(reg, f"c/{i % 3}", digest, j)
                store.put_manifest(reg, f"c/{i % 3}", manifest(digest, blobs=(digest,)), f"t{i}-{j}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(store.list_tags(reg, f"c/{k}", None, None) or []) for k in range(3)) == 80


def test_counted_creates_cannot_overshoot_a_limit(store: SqlMetadataStore, reg: int) -> None:
    """`within_limit` sees the count inside the insert's transaction: 16 racers for 5 slots, 5 win."""
    import uuid

    from cargohold.core.ports.records import Identity, ScopeMap
    from cargohold.metadata.access_sql import SqlAccessStore

    access = SqlAccessStore(store)
    access.update_settings(reg)
    ts = datetime.now(UTC)

    class AtLimit(Exception):
        pass

    def at_most(limit: int) -> Callable[[int], None]:
        def check(count: int) -> None:
            if count >= limit:
                raise AtLimit
        return check

    def token(i: int) -> bool:
        try:
            access.create_identity(Identity(str(uuid.uuid4()), reg, "token", f"racer-{i:02d}", "", True, None, ts, ts),
                                   [], within_limit=at_most(5))
            return True
        except AtLimit:
            return False

    def scope_map(i: int) -> bool:
        try:
            access.create_scope_map(ScopeMap(str(uuid.uuid4()), reg, f"racer-maps-{i:02d}", "", False,
                                             (("a", "content/read"),), ts, ts), within_limit=at_most(5))
            return True
        except AtLimit:
            return False

    for create in (token, scope_map):
        with ThreadPoolExecutor(max_workers=16) as pool:
            assert sum(pool.map(create, range(16))) == 5, create.__name__
    assert access.count_identities(reg, "token") == 5 and access.count_user_scope_maps(reg) == 5
