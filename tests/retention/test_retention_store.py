"""Which manifests the policy deletes, at the store level (SQLite, or PostgreSQL under --pg): the due
query, the re-check inside the delete transaction, and the "untagged since" bound."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from retentiontools import Stores

from cargohold.core.errors import Conflict, InvalidArgument
from cargohold.core.manifests import remove_tag, store_manifest
from cargohold.core.ports.records import NewManifest, Registry
from cargohold.core.retention import DueManifest, RetentionService, cutoff, delete_if_due, sweep

REPO = "app"
INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE = "application/vnd.oci.image.manifest.v1+json"


def manifest(name: str, *, children: tuple[str, ...] = (), subject: str | None = None) -> NewManifest:
    content = json.dumps({"name": name, "children": children, "subject": subject}).encode()
    return NewManifest("sha256:" + hashlib.sha256(content).hexdigest(), INDEX if children else IMAGE,
                       "application/example" if subject else None, subject, None, content, (), children)


def push(s: Stores, m: NewManifest, tag: str | None = None, repo: str = REPO) -> str:
    store_manifest(s.metadata, s.registry.id, repo, m, tag)
    return m.digest


def due(s: Stores, days: int = 0, at: datetime | None = None) -> set[str]:
    limit = cutoff(at or datetime.now(UTC), days)
    return {d.digest for d in s.retention.due_manifests(s.registry.id, limit, None, 1000)}


def exists(s: Stores, digest: str, repo: str = REPO) -> bool:
    return s.metadata.get_manifest_by_digest(s.registry.id, repo, digest) is not None


def test_only_untagged_unreferenced_unlocked_manifests_are_due(stores: Stores) -> None:
    s = stores
    old = push(s, manifest("old"), "v1")
    new = push(s, manifest("new"), "v1")  # moves v1: `old` is untagged now
    child = push(s, manifest("child"))
    index = push(s, manifest("index", children=(child,)), "multi")
    signature = push(s, manifest("sig", subject=new))  # referrer of a live subject
    orphan = push(s, manifest("orphan-sig", subject="sha256:" + "0" * 64))  # its subject is not here
    locked = push(s, manifest("locked"))
    undeletable = push(s, manifest("undeletable"))
    s.sql("UPDATE manifests SET write_enabled = false WHERE digest = :d", d=locked)
    s.sql("UPDATE manifests SET delete_enabled = false WHERE digest = :d", d=undeletable)

    assert due(s) == {old, orphan}
    assert not {new, child, index, signature, locked, undeletable} & due(s)


def test_the_keyset_batches_walk_every_due_manifest(stores: Stores) -> None:
    s = stores
    digests = {push(s, manifest(f"m{i}"), repo=f"repo{i % 3}") for i in range(7)}
    seen: list[DueManifest] = []
    after = None
    limit = cutoff(datetime.now(UTC), 0)
    while batch := s.retention.due_manifests(s.registry.id, limit, after, 2):
        seen.extend(batch)
        after = (batch[-1].repository_id, batch[-1].digest)
    assert {d.digest for d in seen} == digests and len(seen) == len(digests)


def test_a_tag_pushed_between_selection_and_deletion_saves_the_manifest(stores: Stores) -> None:
    s = stores
    m = manifest("racing")
    push(s, m)
    other = push(s, manifest("other"))
    limit = cutoff(datetime.now(UTC), 0)
    candidates = s.retention.due_manifests(s.registry.id, limit, None, 100)
    assert {c.digest for c in candidates} == {m.digest, other}

    push(s, m, "late")  # a push tags it after the sweep selected it
    deleted = delete_if_due(s.retention, s.registry.id, candidates, limit)

    # The re-check applies the whole rule: the push also restarted the repository's clock, so `other`
    # waits for the next sweep's cutoff too.
    assert deleted == []
    assert exists(s, m.digest) and exists(s, other)
    later = cutoff(datetime.now(UTC), 0)
    assert [d.digest for d in delete_if_due(s.retention, s.registry.id, candidates, later)] == [other]
    assert exists(s, m.digest) and not exists(s, other)
    assert s.metadata.list_tags(s.registry.id, REPO, None, None) == ["late"]


def test_a_lock_or_a_new_reference_set_meanwhile_also_saves_it(stores: Stores) -> None:
    s = stores
    locked, child = push(s, manifest("to-lock"), repo="other"), push(s, manifest("to-adopt"))
    limit = cutoff(datetime.now(UTC), 0)
    candidates = s.retention.due_manifests(s.registry.id, limit, None, 100)
    s.sql("UPDATE manifests SET write_enabled = false WHERE digest = :d", d=locked)
    push(s, manifest("parent", children=(child,)), "parent")
    assert delete_if_due(s.retention, s.registry.id, candidates, limit) == []
    assert exists(s, locked, "other") and exists(s, child)


def test_deletion_removes_reference_rows_and_keeps_blob_links(stores: Stores) -> None:
    s = stores
    child = push(s, manifest("c"))
    index = push(s, manifest("i", children=(child,)))
    registry = Registry(s.registry.id, s.registry.name, s.registry.login_server)
    s.access.update_settings(s.registry.id, retention_enabled=True, retention_days=0)
    logged: list[str] = []
    result = sweep(s.retention, lambda _r, m, _d: logged.append(m.digest))
    # The untagged index goes first; its child, unreferenced now, goes in a later pass of the same sweep.
    assert logged == [index, child] and result.deleted == 2 and result.registries == 1
    assert not exists(s, index) and not exists(s, child)
    with s.metadata.read() as conn:
        refs = conn.execute(sa.text("SELECT count(*) FROM manifest_references WHERE repository_id IN "
                                    "(SELECT id FROM repositories WHERE registry_id = :r)"), {"r": registry.id})
        assert refs.scalar() == 0


def test_the_untagged_since_bound_never_runs_early(stores: Stores) -> None:
    """max(manifest.updated_at, repository.updated_at): an old manifest untagged a moment ago is not due."""
    s = stores
    digest = push(s, manifest("released"), "v1")
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    s.sql("UPDATE manifests SET updated_at = :t", t=ten_days_ago)
    s.sql("UPDATE repositories SET updated_at = :t", t=ten_days_ago)
    assert digest not in due(s, days=7)  # tagged

    assert remove_tag(s.metadata, s.registry.id, REPO, "v1")  # untagged now: the repository records when
    assert digest not in due(s, days=7)
    assert digest not in due(s, days=7, at=datetime.now(UTC) + timedelta(days=6))
    assert digest in due(s, days=7, at=datetime.now(UTC) + timedelta(days=7, seconds=1))

    s.sql("UPDATE repositories SET updated_at = :t", t=ten_days_ago)
    assert digest in due(s, days=7)
    push(s, manifest("released"))  # a re-push refreshes it
    s.sql("UPDATE repositories SET updated_at = :t", t=ten_days_ago)
    assert digest not in due(s, days=7)


def test_the_sweep_skips_registries_without_the_policy_or_the_premium_sku(stores: Stores) -> None:
    s = stores
    digest = push(s, manifest("kept"))
    assert sweep(s.retention, lambda *_: None).registries == 0  # disabled by default
    s.access.update_settings(s.registry.id, retention_enabled=True, retention_days=0, sku="Basic")
    assert sweep(s.retention, lambda *_: None).registries == 0  # stranded on Basic: inactive
    assert exists(s, digest)
    s.access.update_settings(s.registry.id, sku="Premium", retention_days=1)
    assert sweep(s.retention, lambda *_: None).deleted == 0  # not a day old yet
    assert exists(s, digest)
    s.access.update_settings(s.registry.id, retention_days=0)
    assert sweep(s.retention, lambda *_: None).deleted == 1
    assert not exists(s, digest)


def test_the_service_validates_and_applies_the_sku_rule(stores: Stores) -> None:
    s = stores
    service = RetentionService(s.access, s.retention)
    r = s.registry
    policy = service.show(r)
    assert (policy.enabled, policy.days) == (False, 7)
    for bad in (-1, 366, True, "7"):
        with pytest.raises(InvalidArgument, match="from 0 to 365"):
            service.update(r, days=bad)
    with pytest.raises(InvalidArgument, match="UntaggedManifests"):
        service.update(r, status="enabled", policy_type="TaggedManifests")
    with pytest.raises(InvalidArgument, match="enabled or disabled"):
        service.update(r, status="on")
    assert service.show(r).enabled is False  # bad input changed nothing

    policy = service.update(r, status="enabled", days=0, policy_type="untaggedmanifests")
    assert (policy.enabled, policy.days) == (True, 0) and policy.updated_at is not None
    service.update(r, status="disabled")
    s.access.update_settings(r.id, sku="Basic")
    with pytest.raises(Conflict, match=r"the retention policy needs the Premium SKU \(registry 'retentiontest' "
                                       r"is Basic\)"):
        service.update(r, status="enabled")
    assert service.update(r, days=30).days == 30  # settings may change while the policy is off
    assert service.show(r).enabled is False


def test_a_push_in_flight_when_the_sweep_deletes_wins(stores: Stores) -> None:
    """The real race: a push's transaction (manifest row upserted, tag inserted) is open while the sweep's
    delete runs. The delete waits for it (SQLite: the write lock; PostgreSQL: the manifest's row lock) and
    then sees the tag. The push here keeps the old `updated_at`, so only the tag check can save it."""
    s = stores
    m = manifest("in-flight")
    push(s, m)
    limit = cutoff(datetime.now(UTC), 0)
    candidates = s.retention.due_manifests(s.registry.id, limit, None, 10)
    repo_id = candidates[0].repository_id
    result: list[list[DueManifest]] = []
    with s.metadata.write() as conn:  # the push
        conn.execute(sa.text("UPDATE manifests SET size = size WHERE digest = :d"), {"d": m.digest})
        conn.execute(sa.text("INSERT INTO tags (registry_id, repository_id, name, digest, created_at, updated_at) "
                             "VALUES (:r, :repo, 'pinned', :d, :t, :t)"),
                     {"r": s.registry.id, "repo": repo_id, "d": m.digest, "t": limit - timedelta(days=1)})
        sweeper = threading.Thread(target=lambda: result.append(
            delete_if_due(s.retention, s.registry.id, candidates, limit)))
        sweeper.start()
        time.sleep(0.5)
        assert sweeper.is_alive()  # waiting for the push to finish
    sweeper.join(30)
    assert result == [[]]
    assert exists(s, m.digest)
