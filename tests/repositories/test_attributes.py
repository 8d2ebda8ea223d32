"""The changeable-attribute matrix: each attribute on a repository, a tag and a manifest, against the
operations it blocks and those it must leave alone, on the data plane (/v2/) and the control plane
(/api/); and a lock's effect on every worker at once (the server has 2 workers)."""

from __future__ import annotations

import httpx
import pytest
from mgmttools import Api
from repotools import MT_MANIFEST, error_of, image, pull_status, push, put_manifest, unique, upload

from support import RegistryServer


def denied(response: httpx.Response, lock: str) -> None:
    """403 DENIED naming the lock, e.g. "tag 'v1' in repository 'app' is locked (write-enabled: false)"."""
    assert response.status_code == 403, (response.status_code, response.text)
    error = error_of(response)
    assert error["code"] == "DENIED", error
    assert lock in str(error["message"]), error


def api_denied(owner: Api, method: str, path: str, lock: str, body: object = None) -> None:
    denied(owner.call(method, path, body), lock)


# --- repository ---------------------------------------------------------------------------------


def test_repository_write_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("rw")
    digest = push(v2, repo, "v1")
    other = push(v2, repo, "v2")
    owner.patch(f"/repositories/{repo}", {"writeEnabled": False})
    lock = f"repository '{repo}' is locked (write-enabled: false)"
    manifest, blobs = image("new")
    denied(upload(v2, repo, blobs[0]), lock)  # blob uploads
    denied(put_manifest(v2, repo, "v3", manifest), lock)  # new tags and manifests
    denied(put_manifest(v2, repo, "v1", manifest), lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}", lock)  # the repository
    # not blocked: pulls, untagging and deleting its unlocked images
    assert pull_status(v2, repo, "v1") == 200 and pull_status(v2, repo, digest) == 200
    assert v2.delete(f"/v2/{repo}/manifests/v1").status_code == 202
    owner.delete(f"/repositories/{repo}/_manifests/{other}", expect=200)
    owner.patch(f"/repositories/{repo}", {"writeEnabled": True})
    assert upload(v2, repo, blobs[0]).status_code == 201


def test_repository_delete_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("rd")
    push(v2, repo, "v1")
    gone = push(v2, repo, "v2")
    owner.patch(f"/repositories/{repo}", {"deleteEnabled": False})
    api_denied(owner, "DELETE", f"/repositories/{repo}", f"repository '{repo}' is locked (delete-enabled: false)")
    push(v2, repo, "v1")  # pushes and moves go on
    assert v2.delete(f"/v2/{repo}/manifests/{gone}").status_code == 202  # images may still be deleted
    owner.delete(f"/repositories/{repo}/_tags/v1")
    owner.patch(f"/repositories/{repo}", {"deleteEnabled": True})
    owner.delete(f"/repositories/{repo}", expect=200)


def test_repository_read_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("rr")
    digest = push(v2, repo, "keep")
    config = v2.get(f"/v2/{repo}/manifests/keep", headers={"Accept": MT_MANIFEST}).json()["config"]["digest"]
    owner.patch(f"/repositories/{repo}", {"readEnabled": False})
    lock = f"repository '{repo}' is locked (read-enabled: false)"
    for method in ("GET", "HEAD"):
        for ref in ("keep", digest):
            r = v2.request(method, f"/v2/{repo}/manifests/{ref}", headers={"Accept": MT_MANIFEST})
            assert r.status_code == 403, (method, ref, r.status_code)
        assert v2.request(method, f"/v2/{repo}/blobs/{config}").status_code == 403
    denied(v2.get(f"/v2/{repo}/manifests/keep"), lock)
    denied(v2.get(f"/v2/{repo}/blobs/{config}"), lock)
    # not blocked: pushes, tag listing, the control plane's view
    push(v2, repo, "another")
    assert sorted(v2.get(f"/v2/{repo}/tags/list").json()["tags"]) == ["another", "keep"]
    assert owner.get(f"/repositories/{repo}")["tagCount"] == 2
    owner.patch(f"/repositories/{repo}", {"readEnabled": True})
    assert pull_status(v2, repo, "keep") == 200 and v2.get(f"/v2/{repo}/blobs/{config}").status_code == 200


def test_repository_list_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("rl")
    push(v2, repo, "v1")
    owner.patch(f"/repositories/{repo}", {"listEnabled": False})
    assert repo not in v2.get("/v2/_catalog").json()["repositories"]
    assert repo not in owner.get("/repositories")
    assert pull_status(v2, repo, "v1") == 200 and owner.get(f"/repositories/{repo}")["tagCount"] == 1
    push(v2, repo, "v2")
    owner.patch(f"/repositories/{repo}", {"listEnabled": True})
    assert repo in v2.get("/v2/_catalog").json()["repositories"] and repo in owner.get("/repositories")


# --- tag ------------------------------------------------------------------------------------------


def test_tag_write_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("tw")
    manifest, _ = image("first")
    digest = push(v2, repo, "v1", payload="first")
    owner.patch(f"/repositories/{repo}/_tags/v1", {"writeEnabled": False})
    lock = f"tag 'v1' in repository '{repo}' is locked (write-enabled: false)"
    other_manifest, other_blobs = image("second")
    for blob in other_blobs:
        assert upload(v2, repo, blob).status_code == 201  # the repository is not locked
    denied(put_manifest(v2, repo, "v1", other_manifest), lock)  # no move
    assert put_manifest(v2, repo, "v1", manifest).status_code == 201  # the same digest again: a no-op
    denied(v2.delete(f"/v2/{repo}/manifests/v1"), lock)  # no untag
    denied(v2.delete(f"/v2/{repo}/manifests/{digest}"), lock)  # its manifest would take it along
    api_denied(owner, "DELETE", f"/repositories/{repo}/_tags/v1", lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}/_manifests/{digest}", lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}", lock)
    # not blocked: pulls, other tags, the manifest's own attributes
    assert pull_status(v2, repo, "v1") == 200 and pull_status(v2, repo, digest) == 200
    assert put_manifest(v2, repo, "v2", other_manifest).status_code == 201
    assert owner.get(f"/repositories/{repo}/_tags/v1")["digest"] == digest
    owner.patch(f"/repositories/{repo}/_tags/v1", {"writeEnabled": True})
    assert put_manifest(v2, repo, "v1", other_manifest).status_code == 201


def test_tag_delete_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("td")
    digest = push(v2, repo, "v1")
    owner.patch(f"/repositories/{repo}/_tags/v1", {"deleteEnabled": False})
    lock = f"tag 'v1' in repository '{repo}' is locked (delete-enabled: false)"
    denied(v2.delete(f"/v2/{repo}/manifests/v1"), lock)
    denied(v2.delete(f"/v2/{repo}/manifests/{digest}"), lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}/_tags/v1", lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}/_manifests/v1", lock)
    moved = push(v2, repo, "v1")  # an overwrite is allowed
    assert owner.get(f"/repositories/{repo}/_tags/v1")["digest"] == moved
    owner.delete(f"/repositories/{repo}/_manifests/{digest}", expect=200)  # the old image is no longer tagged


def test_tag_read_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("tr")
    digest = push(v2, repo, "v1", payload="same")
    push(v2, repo, "alias", payload="same")
    owner.patch(f"/repositories/{repo}/_tags/v1", {"readEnabled": False})
    denied(v2.get(f"/v2/{repo}/manifests/v1"), f"tag 'v1' in repository '{repo}' is locked (read-enabled: false)")
    assert pull_status(v2, repo, "v1", "HEAD") == 403
    assert pull_status(v2, repo, digest) == 200 and pull_status(v2, repo, "alias") == 200
    assert "v1" in v2.get(f"/v2/{repo}/tags/list").json()["tags"]


def test_tag_list_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("tl")
    digest = push(v2, repo, "v1")
    push(v2, repo, "v2")
    owner.patch(f"/repositories/{repo}/_tags/v1", {"listEnabled": False})
    assert v2.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v2"]
    assert [t["name"] for t in owner.get(f"/repositories/{repo}/_tags")] == ["v2"]
    assert owner.get(f"/repositories/{repo}/_manifests/{digest}")["tags"] == []
    assert owner.get(f"/repositories/{repo}/_tags/v1")["changeableAttributes"]["listEnabled"] is False
    assert pull_status(v2, repo, "v1") == 200


# --- manifest -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag, spelt", [("writeEnabled", "write-enabled"), ("deleteEnabled", "delete-enabled")])
def test_manifest_write_or_delete_disabled(owner: Api, v2: httpx.Client, flag: str, spelt: str) -> None:
    repo = unique("mw")
    digest = push(v2, repo, "v1")
    owner.patch(f"/repositories/{repo}/_manifests/{digest}", {flag: False})
    lock = f"manifest '{digest}' in repository '{repo}' is locked ({spelt}: false)"
    denied(v2.delete(f"/v2/{repo}/manifests/{digest}"), lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}/_manifests/v1", lock)
    api_denied(owner, "DELETE", f"/repositories/{repo}", lock)
    # not blocked: its tags move and go (tag and manifest attributes are independent), pulls
    assert owner.get(f"/repositories/{repo}/_tags/v1")["changeableAttributes"][flag] is True
    push(v2, repo, "v1")
    owner.patch(f"/repositories/{repo}/_tags/v1", {"writeEnabled": True})
    push(v2, repo, "v2", payload=None)
    assert pull_status(v2, repo, digest) == 200
    assert owner.get(f"/repositories/{repo}/_manifests/{digest}")["tags"] == []


def test_manifest_read_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("mr")
    digest = push(v2, repo, "v1", payload="img")
    push(v2, repo, "v2", payload="img")
    other = push(v2, repo, "other")
    owner.patch(f"/repositories/{repo}/_manifests/v1", {"readEnabled": False})
    lock = f"manifest '{digest}' in repository '{repo}' is locked (read-enabled: false)"
    for ref in ("v1", "v2", digest):
        denied(v2.get(f"/v2/{repo}/manifests/{ref}"), lock)
    assert pull_status(v2, repo, other) == 200
    assert owner.get(f"/repositories/{repo}/_tags/v1")["changeableAttributes"]["readEnabled"] is True


def test_manifest_list_disabled(owner: Api, v2: httpx.Client) -> None:
    repo = unique("ml")
    digest = push(v2, repo, "v1")
    kept = push(v2, repo, None)
    owner.patch(f"/repositories/{repo}/_manifests/{digest}", {"listEnabled": False})
    assert [m["digest"] for m in owner.get(f"/repositories/{repo}/_manifests")] == [kept]
    assert owner.get(f"/repositories/{repo}/_manifests/{digest}")["changeableAttributes"]["listEnabled"] is False
    assert v2.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"] and pull_status(v2, repo, digest) == 200


# --- every worker at once -------------------------------------------------------------------------


def test_a_lock_takes_effect_in_every_worker_at_once(owner: Api, server: RegistryServer) -> None:
    """Warm both workers' manifest caches, lock, and every following pull (new connections, spread over
    both workers) is refused; unlock and every pull succeeds again."""
    repo = unique("cache")
    fresh = httpx.Client(base_url=server.url, auth=server.auth, timeout=30,
                         limits=httpx.Limits(max_keepalive_connections=0))
    with fresh:
        digest = push(fresh, repo, "v1")
        for _ in range(12):
            assert pull_status(fresh, repo, "v1") == 200 and pull_status(fresh, repo, digest) == 200
        owner.patch(f"/repositories/{repo}/_tags/v1", {"readEnabled": False})
        assert {pull_status(fresh, repo, "v1") for _ in range(12)} == {403}
        assert {pull_status(fresh, repo, digest) for _ in range(12)} == {200}
        owner.patch(f"/repositories/{repo}", {"readEnabled": False})
        assert {pull_status(fresh, repo, digest) for _ in range(12)} == {403}
        owner.patch(f"/repositories/{repo}", {"readEnabled": True})
        owner.patch(f"/repositories/{repo}/_tags/v1", {"readEnabled": True})
        assert {pull_status(fresh, repo, "v1") for _ in range(12)} == {200}
        # a write lock, too: no stale repository-attribute cache lets a blob upload through
        owner.patch(f"/repositories/{repo}", {"writeEnabled": False})
        assert {upload(fresh, repo, b"x" * n).status_code for n in range(1, 9)} == {403}
