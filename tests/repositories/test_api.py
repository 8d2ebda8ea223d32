"""The repository-management API (/api/repositories...): every endpoint, names with slashes, ordering,
404s and bad input, and who may call what (roles at registry and repository scope, repository tokens)."""

from __future__ import annotations

import secrets
import time

import httpx
from mgmttools import Api, password_value
from repotools import push, unique

from support import RegistryServer

ATTRS = {"deleteEnabled": True, "writeEnabled": True, "readEnabled": True, "listEnabled": True}


def test_show_list_and_nested_names(owner: Api, v2: httpx.Client, server: RegistryServer) -> None:
    repo = f"{unique('a')}/b/c"
    d1 = push(v2, repo, "v1")
    d2 = push(v2, repo, "v2")
    shown = owner.get(f"/repositories/{repo}")
    assert shown["imageName"] == repo and shown["registry"] == server.host
    assert shown["manifestCount"] == 2 and shown["tagCount"] == 2
    assert shown["changeableAttributes"] == ATTRS
    assert shown["createdTime"].endswith("Z") and shown["lastUpdateTime"] >= shown["createdTime"]
    assert repo in owner.get("/repositories")
    # the fixed suffixes route unambiguously under a name holding slashes
    assert [t["name"] for t in owner.get(f"/repositories/{repo}/_tags")] == ["v1", "v2"]
    tag = owner.get(f"/repositories/{repo}/_tags/v1")
    assert tag["digest"] == d1 and tag["changeableAttributes"] == ATTRS
    manifests = owner.get(f"/repositories/{repo}/_manifests")
    assert {m["digest"]: m["tags"] for m in manifests} == {d1: ["v1"], d2: ["v2"]}
    by_tag = owner.get(f"/repositories/{repo}/_manifests/v2")
    by_digest = owner.get(f"/repositories/{repo}/_manifests/{d2}")
    assert by_tag == by_digest
    assert by_tag["mediaType"] == "application/vnd.oci.image.manifest.v1+json" and by_tag["size"] > 0


def test_ordering_and_top(owner: Api, v2: httpx.Client) -> None:
    repo = unique("order")
    for tag in ("b", "c", "a"):
        push(v2, repo, tag)
        time.sleep(0.01)
    names = lambda rows: [r["name"] for r in rows]  # noqa: E731
    assert names(owner.get(f"/repositories/{repo}/_tags")) == ["a", "b", "c"]
    assert names(owner.get(f"/repositories/{repo}/_tags", orderby="time_asc")) == ["b", "c", "a"]
    assert names(owner.get(f"/repositories/{repo}/_tags", orderby="time_desc")) == ["a", "c", "b"]
    assert names(owner.get(f"/repositories/{repo}/_tags", orderby="time_desc", top=1)) == ["a"]
    newest = owner.get(f"/repositories/{repo}/_manifests", orderby="time_desc", top=2)
    assert [m["tags"] for m in newest] == [["a"], ["c"]]
    owner.get(f"/repositories/{repo}/_tags", orderby="size", expect=400)
    owner.get(f"/repositories/{repo}/_tags", top=0, expect=400)
    owner.get(f"/repositories/{repo}/_tags", top="x", expect=400)
    assert owner.get("/repositories", top=1) and len(owner.get("/repositories", top=1)) == 1


def test_untagged_manifests_are_listed(owner: Api, v2: httpx.Client) -> None:
    repo = unique("dangling")
    old = push(v2, repo, "latest")
    new = push(v2, repo, "latest")
    untagged = push(v2, repo, None)
    rows = {m["digest"]: m["tags"] for m in owner.get(f"/repositories/{repo}/_manifests")}
    assert rows == {old: [], new: ["latest"], untagged: []}


def test_update_attributes(owner: Api, v2: httpx.Client) -> None:
    repo = unique("attrs")
    digest = push(v2, repo, "v1")
    r = owner.patch(f"/repositories/{repo}", {"writeEnabled": False})
    assert r["changeableAttributes"] == {**ATTRS, "writeEnabled": False}
    r = owner.patch(f"/repositories/{repo}", {"writeEnabled": True, "listEnabled": False})
    assert r["changeableAttributes"] == {**ATTRS, "listEnabled": False}
    t = owner.patch(f"/repositories/{repo}/_tags/v1", {"deleteEnabled": False, "readEnabled": False})
    assert t["changeableAttributes"] == {**ATTRS, "deleteEnabled": False, "readEnabled": False}
    m = owner.patch(f"/repositories/{repo}/_manifests/v1", {"writeEnabled": False})  # by tag: its manifest
    assert m["digest"] == digest and m["changeableAttributes"] == {**ATTRS, "writeEnabled": False}
    # tag and manifest attributes are independent
    assert owner.get(f"/repositories/{repo}/_tags/v1")["changeableAttributes"]["writeEnabled"] is True
    assert owner.get(f"/repositories/{repo}/_manifests/{digest}")["changeableAttributes"]["deleteEnabled"] is True
    # bad bodies change nothing
    for body in ({}, {"writeEnabled": "false"}, {"write_enabled": False}, {"writeEnabled": None, "x": 1}):
        owner.call("PATCH", f"/repositories/{repo}", body, expect=400)
    assert owner.get(f"/repositories/{repo}")["changeableAttributes"] == {**ATTRS, "listEnabled": False}


def test_not_found(owner: Api, v2: httpx.Client) -> None:
    repo = unique("nf")
    push(v2, repo, "v1")
    missing = unique("missing")
    for path in (f"/repositories/{missing}", f"/repositories/{missing}/_tags", f"/repositories/{repo}/_tags/nope",
                 f"/repositories/{repo}/_manifests/sha256:{'0' * 64}", f"/repositories/{repo}/_manifests/nope",
                 f"/repositories/{missing}/_manifests", "/repositories/UPPER/_tags", "/repositories/a//b",
                 f"/repositories/{repo}/_manifests/sha256:zz"):
        owner.get(path, expect=404)
    owner.delete(f"/repositories/{missing}", expect=404)
    owner.delete(f"/repositories/{repo}/_tags/nope", expect=404)
    owner.patch(f"/repositories/{repo}/_tags/nope", {"writeEnabled": False}, expect=404)


def test_untag_delete_image_and_repository(owner: Api, v2: httpx.Client) -> None:
    repo = unique("del") + "/x"
    digest = push(v2, repo, "v1", payload="same")
    push(v2, repo, "v2", payload="same")  # the same image under two tags
    other = push(v2, repo, "keep")
    owner.delete(f"/repositories/{repo}/_tags/v2")
    assert owner.get(f"/repositories/{repo}/_manifests/{digest}")["tags"] == ["v1"]
    push(v2, repo, "v3", payload="same")
    deleted = owner.delete(f"/repositories/{repo}/_manifests/v1", expect=200)
    assert deleted == {"manifestsDeleted": [digest], "tagsDeleted": ["v1", "v3"]}
    assert v2.get(f"/v2/{repo}/manifests/{digest}").status_code == 404
    assert [t["name"] for t in owner.get(f"/repositories/{repo}/_tags")] == ["keep"]
    gone = owner.delete(f"/repositories/{repo}", expect=200)
    assert gone == {"manifestsDeleted": [other], "tagsDeleted": ["keep"]}
    owner.get(f"/repositories/{repo}", expect=404)
    assert repo not in owner.get("/repositories")
    assert v2.get(f"/v2/{repo}/tags/list").status_code == 404
    # the name can be pushed to again, from scratch
    push(v2, repo, "again")
    assert owner.get(f"/repositories/{repo}")["manifestCount"] == 1


def _user(owner: Api, server: RegistryServer, role: str | None, scope: str = "") -> Api:
    name = "u" + secrets.token_hex(5)
    created = owner.post("/users", {"name": name}, expect=201)
    if role:
        owner.post("/role-assignments", {"assignee": name, "role": role, "scope": scope}, expect=201)
    return Api(server.url, name, created["password"])


def test_who_may_do_what(owner: Api, v2: httpx.Client, server: RegistryServer) -> None:
    team = unique("team")
    repo, elsewhere = f"{team}/app", unique("other")
    push(v2, repo, "v1")
    push(v2, repo, "v2")
    push(v2, elsewhere, "v1")
    puller = _user(owner, server, "AcrPull", f"repositories/{team}/*")
    pusher = _user(owner, server, "AcrPush", f"repositories/{team}/*")
    deleter = _user(owner, server, "AcrDelete", f"repositories/{team}/*")
    nobody = _user(owner, server, None)
    try:
        # reads: metadata_read on that repository
        assert puller.get(f"/repositories/{repo}")["imageName"] == repo
        puller.get(f"/repositories/{elsewhere}", expect=403)
        assert repo in puller.get("/repositories") and elsewhere not in puller.get("/repositories")
        assert nobody.get("/repositories") == []
        nobody.get(f"/repositories/{repo}/_tags", expect=403)
        deleter.get(f"/repositories/{repo}/_tags", expect=403)
        # attribute changes: metadata_write
        puller.patch(f"/repositories/{repo}", {"writeEnabled": False}, expect=403)
        pusher.patch(f"/repositories/{repo}/_tags/v1", {"writeEnabled": True})
        pusher.patch(f"/repositories/{elsewhere}/_tags/v1", {"writeEnabled": True}, expect=403)
        # deletes and untag: delete
        pusher.delete(f"/repositories/{repo}/_tags/v2", expect=403)
        error = puller.error("DELETE", f"/repositories/{repo}", status=403)
        assert "delete" in error["message"] and repo in error["message"]
        deleter.delete(f"/repositories/{repo}/_tags/v2")
        deleter.delete(f"/repositories/{elsewhere}/_tags/v1", expect=403)
        # no credentials, wrong credentials
        with Api(server.url, None, None) as anon:
            anon.get(f"/repositories/{repo}", expect=401)
        with Api(server.url, puller.username, "wrong-password") as wrong:
            wrong.get(f"/repositories/{repo}", expect=401)
    finally:
        for api in (puller, pusher, deleter, nobody):
            api.close()


def test_repository_tokens_by_scope_map(owner: Api, v2: httpx.Client, server: RegistryServer) -> None:
    repo = unique("tok")
    push(v2, repo, "v1")
    name = unique("reader")
    token = owner.post("/tokens", {"name": name, "repositories": [repo], "actions": ["metadata/read"]},
                       expect=201)
    with Api(server.url, name, password_value(token, "password1")) as api:
        assert api.get(f"/repositories/{repo}/_tags")[0]["name"] == "v1"
        api.get(f"/repositories/{unique('other')}", expect=403)
        api.patch(f"/repositories/{repo}", {"readEnabled": False}, expect=403)
        api.get("/repositories", expect=403)  # tokens never list the catalog
        api.get("/tag-rules", expect=403)  # nor use the rest of the control plane
    writer = unique("writer")
    token = owner.post("/tokens", {"name": writer, "repositories": [repo],
                                   "actions": ["metadata/write", "content/delete"]}, expect=201)
    with Api(server.url, writer, password_value(token, "password1")) as api:
        assert api.patch(f"/repositories/{repo}/_tags/v1", {"listEnabled": False})["changeableAttributes"][
            "listEnabled"] is False
        api.delete(f"/repositories/{repo}/_tags/v1")
        api.get(f"/repositories/{repo}", expect=403)  # no metadata/read


def test_unknown_methods_and_paths(owner: Api) -> None:
    r = owner.call("PUT", "/repositories/a/b/_tags/x", {}, expect=405)
    assert "PATCH" in r.headers["Allow"] and "DELETE" in r.headers["Allow"]
    owner.call("POST", "/repositories", {}, expect=405)
