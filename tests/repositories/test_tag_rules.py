"""Write-once tags: the rules API (/api/tag-rules), what a protected tag refuses, and racing pushes
(≥8 at once, through the store and over HTTP on a 2-worker server): exactly one wins, the tag never moves.
Runs on SQLite, and on PostgreSQL under --pg (CARGOHOLD_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from mgmttools import Api
from repotools import digest_of, error_of, image, pull_status, push, put_manifest, unique, upload

from cargohold.core.errors import Denied
from cargohold.core.manifests import store_manifest
from cargohold.core.ports.records import NewManifest, TagImmutabilityRule
from cargohold.metadata.repository_sql import SqlRepositoryStore
from cargohold.metadata.sql import SqlMetadataStore, now
from support import RegistryServer, fresh_metadata_store

RELEASE = r"v\d+\.\d+\.\d+"


def _rule(owner: Api, repository: str, pattern: str = RELEASE) -> str:
    created = owner.post("/tag-rules", {"pattern": pattern, "repository": repository,
                                        "description": "releases"}, expect=201)
    assert created["pattern"] == pattern and created["repository"] == repository
    return str(created["id"])


def test_rules_api(owner: Api, server: RegistryServer) -> None:
    scope = unique("rules") + "/*"
    rule_id = _rule(owner, scope)
    listed = {r["id"]: r for r in owner.get("/tag-rules")}
    assert listed[rule_id]["description"] == "releases" and listed[rule_id]["createdAt"].endswith("Z")
    owner.post("/tag-rules", {"pattern": RELEASE, "repository": scope}, expect=409)
    for body in ({"pattern": "("}, {"pattern": "x" * 256}, {"pattern": ""}, {"pattern": "v1", "repository": "*"},
                 {"pattern": "v1", "repository": "UPPER"}, {"pattern": "v1", "repository": "a//b"},
                 {"pattern": 1}, {"pattern": "v1", "extra": True}, {}):
        owner.post("/tag-rules", body, expect=400)
    owner.delete(f"/tag-rules/{rule_id}")
    owner.delete(f"/tag-rules/{rule_id}", expect=404)
    assert rule_id not in {r["id"] for r in owner.get("/tag-rules")}
    # cp:read lists, cp:write changes
    name = unique("reader")
    password = owner.post("/users", {"name": name}, expect=201)["password"]
    owner.post("/role-assignments", {"assignee": name, "role": "Reader", "scope": ""}, expect=201)
    with Api(server.url, name, password) as reader:
        reader.get("/tag-rules")
        reader.post("/tag-rules", {"pattern": "x"}, expect=403)


def test_a_protected_tag_is_written_once(owner: Api, v2: httpx.Client) -> None:
    repo = unique("wo")
    rule_id = _rule(owner, repo)
    digest = push(v2, repo, "v1.0.0", payload="release")
    manifest, _ = image("release")
    assert put_manifest(v2, repo, "v1.0.0", manifest).status_code == 201  # the same digest: fine
    other, blobs = image("other")
    for blob in blobs:
        upload(v2, repo, blob)
    r = put_manifest(v2, repo, "v1.0.0", other)
    assert r.status_code == 403 and error_of(r)["code"] == "DENIED"
    message = str(error_of(r)["message"])
    assert f"tag 'v1.0.0' in repository '{repo}' is write-once" in message and rule_id in message
    for response in (v2.delete(f"/v2/{repo}/manifests/v1.0.0"), v2.delete(f"/v2/{repo}/manifests/{digest}")):
        assert response.status_code == 403 and "write-once" in str(error_of(response)["message"])
    for path in (f"/repositories/{repo}/_tags/v1.0.0", f"/repositories/{repo}/_manifests/{digest}",
                 f"/repositories/{repo}"):
        assert "write-once" in owner.error("DELETE", path, status=403)["message"]
    # a tag the pattern does not match in full stays movable and deletable
    push(v2, repo, "v1.0.0-rc1")
    push(v2, repo, "v1.0.0-rc1")
    owner.delete(f"/repositories/{repo}/_tags/v1.0.0-rc1")
    assert owner.get(f"/repositories/{repo}/_tags/v1.0.0")["digest"] == digest
    assert pull_status(v2, repo, "v1.0.0") == 200
    # deleting the rule lifts the protection at once
    owner.delete(f"/tag-rules/{rule_id}")
    assert put_manifest(v2, repo, "v1.0.0", other).status_code == 201
    owner.delete(f"/repositories/{repo}", expect=200)


def test_rule_scopes(owner: Api, v2: httpx.Client) -> None:
    team = unique("scope")
    rule_id = _rule(owner, f"{team}/*")
    push(v2, f"{team}/app", "v2.0.0")
    assert v2.delete(f"/v2/{team}/app/manifests/v2.0.0").status_code == 403
    push(v2, f"{team}-other", "v2.0.0")  # not below the prefix
    assert v2.delete(f"/v2/{team}-other/manifests/v2.0.0").status_code == 202
    owner.delete(f"/tag-rules/{rule_id}")


def test_racing_pushes_over_http(owner: Api, server: RegistryServer) -> None:
    """8 different manifests pushed at once to one protected tag on a 2-worker server: exactly one wins."""
    repo = unique("race")
    rule_id = _rule(owner, repo)
    try:
        manifests = []
        with server.client() as v2:
            for i in range(8):
                manifest, blobs = image(f"racer-{i}")
                for blob in blobs:
                    assert upload(v2, repo, blob).status_code == 201
                manifests.append(manifest)
        barrier = threading.Barrier(8)

        def race(manifest: bytes) -> int:
            with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as c:
                c.get(f"/v2/{repo}/tags/list")  # token fetched before the start line
                barrier.wait()
                return put_manifest(c, repo, "v9.9.9", manifest).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(race, manifests))
        assert sorted(statuses) == [201] + [403] * 7, statuses
        winner = digest_of(manifests[statuses.index(201)])
        assert owner.get(f"/repositories/{repo}/_tags/v9.9.9")["digest"] == winner
    finally:
        owner.delete(f"/tag-rules/{rule_id}")


# --- the store, directly -------------------------------------------------------------------------


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    with fresh_metadata_store(tmp_path) as s:
        yield s


def _manifest(i: int) -> NewManifest:
    content = f'{{"racer":{i}}}'.encode()
    return NewManifest(digest_of(content), "application/vnd.oci.image.manifest.v1+json", None, None, None,
                       content, (), ())


@pytest.mark.parametrize("racers", [8, 16])
def test_racing_pushes_in_the_store(store: SqlMetadataStore, racers: int) -> None:
    reg = store.ensure_registry("cargohold", "127.0.0.1:5000").id
    SqlRepositoryStore(store).create_tag_rule(
        TagImmutabilityRule("rule-1", reg, "app", RELEASE, "", now()))
    store_manifest(store, reg, "app", _manifest(-1), None)  # the repository exists before the start line
    barrier = threading.Barrier(racers)
    outcomes: list[str] = [""] * racers

    def race(i: int) -> None:
        barrier.wait()
        try:
            store_manifest(store, reg, "app", _manifest(i), "v1.0.0")
            outcomes[i] = "won"
        except Denied as e:
            assert "write-once" in e.message
            outcomes[i] = "denied"

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1 and outcomes.count("denied") == racers - 1, outcomes
    winner = _manifest(outcomes.index("won")).digest
    found = store.get_manifest_by_tag(reg, "app", "v1.0.0")
    assert found is not None and found.digest == winner
    for i in range(racers):  # the tag never moves afterwards either
        if i != outcomes.index("won"):
            with pytest.raises(Denied):
                store_manifest(store, reg, "app", _manifest(i), "v1.0.0")
    store_manifest(store, reg, "app", _manifest(outcomes.index("won")), "v1.0.0")  # the same digest: fine
    # losers' manifests were rolled back with their refused tag
    assert store.get_manifest_by_digest(reg, "app", _manifest((outcomes.index("won") + 1) % racers).digest) is None
