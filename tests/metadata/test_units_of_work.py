"""Units of work (core/ports/transactions.py) and constraint violations, on SQLite and PostgreSQL:
a rule that refuses inside the transaction leaves nothing written, and a unique or foreign key the
database refuses is core's Conflict, never sqlalchemy's IntegrityError."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from cargohold.core.errors import Conflict, Denied
from cargohold.core.manifests import remove_image, remove_tag, store_manifest
from cargohold.core.ports.records import (
    Identity,
    NewManifest,
    RoleAssignment,
    ScopeMap,
    TagImmutabilityRule,
    UploadRecord,
)
from cargohold.core.ports.registry_store import QuotaExceeded
from cargohold.core.repositories import remove_repository
from cargohold.core.usage import record_blob
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.repository_sql import SqlRepositoryStore
from cargohold.metadata.sql import SqlMetadataStore

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
M1 = "sha256:" + "a" * 64
M2 = "sha256:" + "b" * 64
TS = datetime(2026, 1, 1, tzinfo=UTC)


def manifest(digest: str) -> NewManifest:
    return NewManifest(digest, "application/vnd.oci.image.manifest.v1+json", None, None, None,
                       b'{"m":"' + digest.encode() + b'"}', (D1,), ())


def pushed(store: SqlMetadataStore, reg: int, repo: str = "app") -> SqlRepositoryStore:
    record_blob(store, reg, repo, D1, 10)
    store_manifest(store, reg, repo, manifest(M1), "v1")
    return SqlRepositoryStore(store)


class Refused(Exception):
    pass


def test_a_refusal_inside_the_transaction_rolls_back_every_write(store: SqlMetadataStore, reg: int) -> None:
    repos = pushed(store, reg)
    with pytest.raises(Refused), store.transaction() as tx:
        repo = tx.push_into(reg, "new/repo")
        tx.put_manifest(repo, manifest(M2))
        assert tx.point_tag(repo, "latest", M2)
        old = tx.lock_repository(reg, "app")
        assert old is not None
        tx.delete_manifest(old, M1)
        raise Refused
    assert store.repository_attributes(reg, "new/repo") is None  # the repository created inside is gone too
    assert store.get_manifest_by_digest(reg, "new/repo", M2) is None
    assert store.get_manifest_by_tag(reg, "app", "v1") is not None
    assert repos.manifest(reg, "app", M1) is not None


def test_a_push_into_a_write_locked_repository_writes_nothing(store: SqlMetadataStore, reg: int) -> None:
    repos = pushed(store, reg)
    before = repos.repository(reg, "app")
    repos.set_repository_attributes(reg, "app", {"write_enabled": False})
    with pytest.raises(Denied, match="write-enabled"):
        store_manifest(store, reg, "app", manifest(M2), "v2")
    assert store.get_manifest_by_digest(reg, "app", M2) is None
    assert store.list_tags(reg, "app", None, None) == ["v1"]
    after = repos.repository(reg, "app")
    assert before is not None and after is not None and after.updated_at == before.updated_at  # not even touched


def test_moving_a_locked_tag_does_not_store_the_manifest(store: SqlMetadataStore, reg: int) -> None:
    repos = pushed(store, reg)
    repos.set_tag_attributes(reg, "app", "v1", {"write_enabled": False})
    with pytest.raises(Denied, match="tag 'v1'"):
        store_manifest(store, reg, "app", manifest(M2), "v1")
    assert store.get_manifest_by_digest(reg, "app", M2) is None  # upserted before the tag was judged, rolled back
    found = store.get_manifest_by_tag(reg, "app", "v1")
    assert found is not None and found.digest == M1
    store_manifest(store, reg, "app", manifest(M1), "v1")  # the digest it names: a no-op success


def test_a_write_once_tag_refuses_a_move_and_a_delete(store: SqlMetadataStore, reg: int) -> None:
    repos = pushed(store, reg)
    repos.create_tag_rule(TagImmutabilityRule(str(uuid.uuid4()), reg, "", r"v\d+", "", TS))
    with pytest.raises(Denied, match="write-once"):
        store_manifest(store, reg, "app", manifest(M2), "v1")
    assert store.get_manifest_by_digest(reg, "app", M2) is None
    for delete in (lambda: remove_tag(store, reg, "app", "v1"), lambda: remove_image(store, reg, "app", M1),
                   lambda: remove_repository(store, reg, "app")):
        with pytest.raises(Denied, match="write-once"):
            delete()
    assert store.list_tags(reg, "app", None, None) == ["v1"]
    assert repos.manifest(reg, "app", M1) is not None


def test_a_locked_manifest_refuses_deleting_its_repository(store: SqlMetadataStore, reg: int) -> None:
    repos = pushed(store, reg)
    store_manifest(store, reg, "app", manifest(M2), None)
    repos.set_manifest_attributes(reg, "app", M2, {"delete_enabled": False})
    with pytest.raises(Denied, match="delete-enabled"):
        remove_repository(store, reg, "app")
    assert store.list_tags(reg, "app", None, None) == ["v1"]  # the unlocked image was not deleted either
    assert {m.digest for m in repos.manifests(reg, "app", "name", None) or []} == {M1, M2}
    repos.set_manifest_attributes(reg, "app", M2, {"delete_enabled": True})
    removed = remove_repository(store, reg, "app")
    assert removed is not None and sorted(removed.manifests) == [M1, M2] and removed.tags == ["v1"]
    assert store.repository_attributes(reg, "app") is None


def test_the_hard_quota_refuses_a_blob_and_records_nothing(store: SqlMetadataStore, reg: int) -> None:
    access = SqlAccessStore(store)
    access.update_settings(reg, storage_quota_bytes=15)
    record_blob(store, reg, "app", D1, 10)
    store.create_upload(UploadRecord("u-1", reg, "app", 0, "sha256", None, TS, TS))
    with pytest.raises(QuotaExceeded) as refused:
        record_blob(store, reg, "app", D2, 6, finished_upload="u-1")
    assert (refused.value.used, refused.value.quota, refused.value.size) == (10, 15, 6)
    assert store.blob_size(reg, D2) is None
    assert store.repository_blob_size(reg, "app", D2) is None
    assert store.upload_exists("u-1")  # the finished upload was not dropped either
    assert access.get_settings(reg).storage_used_bytes == 10
    record_blob(store, reg, "other", D1, 10)  # a blob the registry holds adds nothing: within the quota
    record_blob(store, reg, "app", D2, 5, finished_upload="u-1")  # exactly at the quota
    assert access.get_settings(reg).storage_used_bytes == 15
    assert not store.upload_exists("u-1")


def test_racing_blobs_never_overshoot_the_quota(store: SqlMetadataStore, reg: int) -> None:
    SqlAccessStore(store).update_settings(reg, storage_quota_bytes=50)
    start = threading.Barrier(12)

    def push(i: int) -> bool:
        start.wait()
        try:
            record_blob(store, reg, f"r{i % 3}", "sha256:%064x" % (i + 1), 10)
            return True
        except QuotaExceeded:
            return False

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(push, range(12)))
    assert outcomes.count(True) == 5
    assert SqlAccessStore(store).get_settings(reg).storage_used_bytes == 50


# --- IntegrityError is a Conflict ------------------------------------------------------------------


def identity(reg: int, name: str, kind: str = "user") -> Identity:
    return Identity(str(uuid.uuid4()), reg, kind, name, "", True, None, TS, TS)


def test_a_duplicate_identity_is_a_conflict(store: SqlMetadataStore, reg: int) -> None:
    access = SqlAccessStore(store)
    access.create_identity(identity(reg, "alice"))
    with pytest.raises(Conflict):
        access.create_identity(identity(reg, "alice"))  # the store's unique key, not the service's check
    assert [i.name for i in access.list_identities(reg, "user")] == ["alice"]


def test_a_duplicate_scope_map_is_a_conflict(store: SqlMetadataStore, reg: int) -> None:
    access = SqlAccessStore(store)

    def scope_map() -> ScopeMap:
        return ScopeMap(str(uuid.uuid4()), reg, "readers", "", False, (("app", "content/read"),), TS, TS)

    access.create_scope_map(scope_map())
    with pytest.raises(Conflict):
        access.create_scope_map(scope_map())


def test_a_role_for_a_missing_identity_is_a_conflict(store: SqlMetadataStore, reg: int) -> None:
    access = SqlAccessStore(store)
    with pytest.raises(Conflict):  # the foreign key to identities
        access.add_role_assignment(RoleAssignment(str(uuid.uuid4()), reg, str(uuid.uuid4()), "AcrPull", "", TS))
    assert access.role_assignments(reg) == []


def test_racing_duplicate_creates_get_one_winner_and_conflicts(store: SqlMetadataStore, reg: int) -> None:
    """16 concurrent creates of one user name and of one tag rule: one wins, the others are Conflict
    (on PostgreSQL most of them pass the store's own check and lose on the unique key)."""
    access, repos = SqlAccessStore(store), SqlRepositoryStore(store)
    creates = {
        "identity": lambda: access.create_identity(identity(reg, "racer", "service_principal")),
        "tag rule": lambda: repos.create_tag_rule(
            TagImmutabilityRule(str(uuid.uuid4()), reg, "app", "release-.*", "", TS)),
    }
    for name, create in creates.items():
        outcomes = race(create, 16)
        assert sorted(set(outcomes)) == ["conflict", "won"] and outcomes.count("won") == 1, name


def race(create: Callable[[], object], n: int) -> list[str]:
    start = threading.Barrier(n)

    def once(_: int) -> str:
        start.wait()
        try:
            create()
            return "won"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(once, range(n)))
