"""One conformance test every BlobStore driver must pass."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cargohold.core.ports.blob_store import BlobStore, UploadDamaged
from cargohold.storage.filesystem import FilesystemBlobStore
from support import sha256 as digest_of


@pytest.fixture(params=["filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "filesystem":
        yield FilesystemBlobStore(tmp_path / "storage")


def upload(store: BlobStore, upload_id: str, *chunks: bytes) -> int:
    store.start_upload(upload_id)
    size = 0
    for chunk in chunks:
        w = store.open_upload(upload_id)
        try:
            w.resume_at(size)
            w.write(chunk)
        finally:
            w.close()
        size += len(chunk)
    return size


def test_commit_then_read_back(store: BlobStore) -> None:
    data = os.urandom(3 << 20)
    size = upload(store, "u1", data[:1000], data[1000:])
    d = digest_of(data)
    assert store.stat(d) is None
    store.commit_upload("u1", d, size)
    assert store.stat(d) == len(data)
    r = store.open_read(d)
    got = b"".join(iter(lambda: r.read(1 << 20), b""))
    r.close()
    assert got == data
    r = store.open_read(d, 1000)
    assert r.read(10) == data[1000:1010]
    r.close()
    assert "u1" not in {u for u, _ in store.list_uploads()}


def test_unacknowledged_bytes_are_dropped_on_resume(store: BlobStore) -> None:
    store.start_upload("u2")
    w = store.open_upload("u2")
    w.resume_at(0)
    w.write(b"hello")
    w.close()
    w = store.open_upload("u2")
    w.resume_at(5)  # metadata said 5; garbage past it never happened
    w.write(b" world")
    w.close()
    assert b"".join(store.read_upload("u2", 11)) == b"hello world"
    w = store.open_upload("u2")
    w.resume_at(5)
    w.write(b"!")
    w.close()
    assert b"".join(store.read_upload("u2", 100)) == b"hello!"


def test_commit_of_existing_digest_keeps_one_copy(store: BlobStore) -> None:
    data = b"same bytes"
    d = digest_of(data)
    for uid in ("a", "b"):
        upload(store, uid, data)
        store.commit_upload(uid, d, len(data))
    assert store.stat(d) == len(data)
    assert list(store.list_uploads()) == []


def test_commit_truncates_to_acknowledged_length(store: BlobStore) -> None:
    upload(store, "t", b"abcdefgh")
    store.commit_upload("t", digest_of(b"abcd"), 4)
    r = store.open_read(digest_of(b"abcd"))
    assert r.read(100) == b"abcd"
    r.close()


def test_missing_things(store: BlobStore) -> None:
    d = digest_of(b"nope")
    assert store.stat(d) is None
    with pytest.raises(FileNotFoundError):
        store.open_read(d)
    with pytest.raises(FileNotFoundError):
        store.open_upload("does-not-exist")
    store.delete(d)  # absent is fine
    store.delete_upload("does-not-exist")


def test_delete_and_upload_listing(store: BlobStore) -> None:
    upload(store, "keep", b"x")
    data = b"to delete"
    upload(store, "gone", data)
    store.commit_upload("gone", digest_of(data), len(data))
    store.delete(digest_of(data))
    assert store.stat(digest_of(data)) is None
    assert [u for u, _ in store.list_uploads()] == ["keep"]
    store.delete_upload("keep")
    assert list(store.list_uploads()) == []
    assert store.clean_temporary() == 0


def test_resume_past_the_end_is_damage_not_padding(store: BlobStore) -> None:
    upload(store, "short", b"abc")
    w = store.open_upload("short")
    try:
        with pytest.raises(UploadDamaged):
            w.resume_at(10)  # metadata acknowledged 10 bytes, only 3 survived
    finally:
        w.close()


def test_capacity_is_the_storage_size_and_free_space(store: BlobStore) -> None:
    capacity = store.capacity()
    if capacity is not None:  # None: no fixed capacity (object storage)
        assert 0 <= capacity.free_bytes <= capacity.total_bytes and capacity.total_bytes > 0


def test_releasing_waits_for_running_commits(store: BlobStore) -> None:
    import threading

    released = threading.Event()

    def release() -> None:
        with store.releasing():
            released.set()

    with store.committing(), store.committing():  # commits share it
        worker = threading.Thread(target=release)
        worker.start()
        assert not released.wait(0.2)
    worker.join(10)
    assert released.is_set()
