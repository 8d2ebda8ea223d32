"""POST /api/import end to end: real source registries (Distribution, an authenticated Cargohold, a liar),
skopeo to populate the sources and to pull the result back, and the NDJSON progress stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clienttools import Clients
from importservers import Liar
from importtools import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    blob_status,
    call_import,
    canonical,
    imported,
    manifest_bytes,
    push_manifest,
    referrer_digests,
    referrer_of,
    sha256,
    simple_image,
    storage_used,
    tags,
    unique,
)
from ociimages import Layout, make_layer, random_bytes, read_layout_blob, read_layout_ref

from support import DistributionServer, RegistryServer


@pytest.fixture()
def dist_clients(tmp_path: Path, distribution: DistributionServer) -> Iterator[Clients]:
    clients = Clients(tmp_path / "dist-clients", distribution)
    yield clients
    clients.close()


@pytest.fixture()
def target_clients(tmp_path: Path, registry: RegistryServer) -> Iterator[Clients]:
    clients = Clients(tmp_path / "target-clients", registry)
    yield clients
    clients.close()


def _push(clients: Clients, layout: Path, ref: str, repo: str, tag: str, *extra: str) -> str:
    """skopeo copy oci:LAYOUT:REF → the (anonymous) Distribution source; the pushed digest."""
    digestfile = clients.tmp / f"digest-{unique('d')}"
    clients.skopeo("copy", "--dest-tls-verify=false", "--digestfile", str(digestfile), *extra,
                   f"oci:{layout}:{ref}", clients.ref(repo, tag))
    return digestfile.read_text().strip()


def _pull_and_compare(clients: Clients, repo: str, reference: str, source_layout: Path, tmp: Path,
                      *extra: str) -> None:
    """skopeo copy from Cargohold back into a layout; every manifest and blob byte-identical to the source."""
    out = tmp / unique("pulled")
    ref = f"docker://{clients.host}/{repo}" + (f"@{reference}" if reference.startswith("sha256:")
                                              else f":{reference}")
    clients.skopeo("copy", "--src-tls-verify=false", "--src-creds", clients.creds, *extra, ref, f"oci:{out}:x")
    top = read_layout_ref(out, "x")
    files = sorted(p.name for p in (out / "blobs" / "sha256").iterdir())
    assert files, "nothing pulled"
    for name in files:
        pulled = read_layout_blob(out, f"sha256:{name}")
        assert pulled == read_layout_blob(source_layout, f"sha256:{name}"), name
    assert str(top["digest"]).startswith("sha256:")


def test_single_image_by_tag_and_pulled_back_byte_for_byte(
        registry: RegistryServer, distribution: DistributionServer, dist_clients: Clients,
        target_clients: Clients, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "src")
    image = layout.image([make_layer({"a.txt": random_bytes("single-a", 3000)}),
                          make_layer({"b.bin": random_bytes("single-b", 70_000)})], ref="v1")
    src_repo = unique("library/single")
    digest = _push(dist_clients, layout.path, "v1", src_repo, "1.0")
    assert digest == image.digest

    target = unique("imported/single")
    result = imported(registry, f"http://{distribution.host}/{src_repo}:1.0", f"{target}:v1")
    start = result.events[0]
    assert start == {"event": "start", "source": f"http://{distribution.host}/{src_repo}:1.0", "digest": digest,
                     "manifests": 1, "blobs": 3, "bytes": len(image.config) + sum(len(x.blob) for x in image.layers)}
    blob_events = result.of("blob")
    assert {e["digest"] for e in blob_events} == {image.config_digest, *(x.digest for x in image.layers)}
    assert [e["done"] for e in blob_events] == sorted(e["done"] for e in blob_events)
    assert blob_events[-1]["done"] == start["bytes"]
    assert not any(e["mounted"] for e in blob_events)
    assert result.of("manifest") == [{"event": "manifest", "digest": digest, "mediaType": OCI_MANIFEST,
                                      "referrer": False}]
    assert result.last == {"event": "done", "digest": digest, "tags": [f"{target}:v1"], "repositories": [target],
                           "manifests": 1, "blobs": 3, "mounted": 0, "bytes": start["bytes"]}

    status, body = manifest_bytes(registry, target, "v1")
    assert status == 200 and body == image.manifest
    _pull_and_compare(target_clients, target, "v1", layout.path, tmp_path)


def test_by_digest_into_a_bare_repository_is_stored_untagged(
        registry: RegistryServer, distribution: DistributionServer, dist_clients: Clients, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "src")
    image = layout.image([make_layer({"d.txt": random_bytes("digest", 5000)})], ref="v1")
    src_repo = unique("bydigest")
    _push(dist_clients, layout.path, "v1", src_repo, "v1")
    target = unique("imported/bydigest")
    result = imported(registry, f"http://{distribution.host}/{src_repo}@{image.digest}", target)
    assert result.last["digest"] == image.digest and result.last["tags"] == []
    assert manifest_bytes(registry, target, image.digest) == (200, image.manifest)
    assert tags(registry, target) == []
    # And by digest onto a tag, next to another repository, in one call.
    other = unique("imported/bydigest2")
    result = imported(registry, f"http://{distribution.host}/{src_repo}@{image.digest}", f"{target}:t1",
                      f"{other}:t2")
    assert result.last["tags"] == [f"{target}:t1", f"{other}:t2"]
    assert result.last["mounted"] == 2 and result.last["bytes"] == 0  # everything was in the registry already
    assert manifest_bytes(registry, other, "t2") == (200, image.manifest)


def test_every_platform_of_an_index_is_copied(
        registry: RegistryServer, distribution: DistributionServer, dist_clients: Clients,
        target_clients: Clients, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "src")
    shared = make_layer({"shared.txt": random_bytes("shared", 4000)})
    amd = layout.image([shared, make_layer({"amd": random_bytes("amd", 9000)})], arch="amd64")
    arm = layout.image([shared, make_layer({"arm": random_bytes("arm", 8000)})], arch="arm64")
    index = layout.index([amd, arm], ref="multi")
    src_repo = unique("multi")
    assert _push(dist_clients, layout.path, "multi", src_repo, "2.0", "--all") == index.digest

    target = unique("imported/multi")
    result = imported(registry, f"http://{distribution.host}/{src_repo}:2.0", f"{target}:2.0")
    assert result.events[0]["manifests"] == 3
    assert result.events[0]["blobs"] == 5  # two configs, the shared layer once, two own layers
    assert [e["digest"] for e in result.of("manifest")] == [amd.digest, arm.digest, index.digest]
    assert manifest_bytes(registry, target, "2.0") == (200, index.manifest)
    for image in (amd, arm):
        assert manifest_bytes(registry, target, image.digest) == (200, image.manifest)
        for layer in image.layers:
            assert blob_status(registry, target, layer.digest) == 200
    assert tags(registry, target) == ["2.0"]
    _pull_and_compare(target_clients, target, "2.0", layout.path, tmp_path, "--all")


def test_blobs_already_in_the_registry_are_mounted_not_downloaded(
        registry: RegistryServer, liar: tuple[Liar, str]) -> None:
    fake, host = liar
    src = unique("honest/app")
    _, manifest, layer, config = _honest(fake, src, random_bytes("mount-layer", 50_000))

    first = imported(registry, f"http://{host}/{src}:v1", f"{unique('mount/a')}:v1")
    assert first.last["bytes"] == len(config) + len(layer) and first.last["mounted"] in (0, 1)
    fetched = [k for k in fake.blob_requests if k.startswith(src)]
    assert len(fetched) >= 1

    second_target = unique("mount/b")
    before = len(fake.blob_requests)
    second = imported(registry, f"http://{host}/{src}:v1", f"{second_target}:v1")
    assert fake.blob_requests[before:] == []  # not one blob GET reached the source
    assert all(e["mounted"] for e in second.of("blob"))
    assert second.last["mounted"] == 2 and second.last["bytes"] == 0
    assert manifest_bytes(registry, second_target, "v1") == (200, manifest)
    assert blob_status(registry, second_target, sha256(layer)) == 200


def test_force_moves_an_existing_tag_and_without_it_the_import_is_refused(
        registry: RegistryServer, distribution: DistributionServer) -> None:
    src = unique("forced")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        one, _, _ = simple_image(http, src, "one", unique("one"))
        two, _, _ = simple_image(http, src, "two", unique("two"))
    target = unique("imported/forced")
    imported(registry, f"http://{distribution.host}/{src}:one", f"{target}:stable")
    # The same image again onto the same tag is no conflict.
    imported(registry, f"http://{distribution.host}/{src}:one", f"{target}:stable")

    refused = call_import(registry, f"http://{distribution.host}/{src}:two", f"{target}:stable")
    assert refused.status == 409, refused
    error = refused.error
    assert error["code"] == "CONFLICT" and f"{target}:stable" in error["message"] and one in error["message"]
    assert manifest_bytes(registry, target, "stable")[1] and _digest_of(registry, target, "stable") == one

    moved = imported(registry, f"http://{distribution.host}/{src}:two", f"{target}:stable", force=True)
    assert moved.last["digest"] == two
    assert _digest_of(registry, target, "stable") == two
    assert manifest_bytes(registry, target, one)[0] == 200  # the old image stays, untagged


def _digest_of(server: RegistryServer, repo: str, tag: str) -> str:
    status, body = manifest_bytes(server, repo, tag)
    assert status == 200
    return sha256(body)


def test_referrers_are_copied_only_when_asked_from_an_authenticated_cargohold(
        registry: RegistryServer, source_cargohold: RegistryServer) -> None:
    src = unique("signed/app")
    with source_cargohold.client() as http:
        digest, manifest, _ = simple_image(http, src, "v1", unique("signed"))
        sbom, _ = referrer_of(http, src, manifest, OCI_MANIFEST, b'{"sbom": true}')
        sig, _ = referrer_of(http, src, manifest, OCI_MANIFEST, b"signature", "application/vnd.example.sig")
    source = f"http://{source_cargohold.host}/{src}:v1"
    creds = {"username": source_cargohold.username, "password": source_cargohold.password}

    plain = unique("imported/plain")
    result = imported(registry, source, f"{plain}:v1", **creds)
    assert result.events[0]["manifests"] == 1
    assert referrer_digests(registry, plain, digest) == []

    with_refs = unique("imported/signed")
    result = imported(registry, source, f"{with_refs}:v1", includeReferrers=True, **creds)
    assert result.events[0]["manifests"] == 3
    assert {e["digest"] for e in result.of("manifest") if e["referrer"]} == {sbom, sig}
    assert sorted(referrer_digests(registry, with_refs, digest)) == sorted([sbom, sig])
    assert tags(registry, with_refs) == ["v1"]  # referrers are stored untagged


def test_referrers_through_the_tag_schema_fallback(
        registry: RegistryServer, distribution: DistributionServer) -> None:
    """Distribution 2.8 has no referrers API (404): the `sha256-<hex>` index tag lists them."""
    src = unique("fallback")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        digest, manifest, _ = simple_image(http, src, "v1", unique("fb"))
        ref_digest, ref_body = referrer_of(http, src, manifest, OCI_MANIFEST, b"attestation")
        fallback = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": ref_digest, "size": len(ref_body),
             "artifactType": "application/vnd.example.sbom"}]})
        push_manifest(http, src, digest.replace(":", "-"), fallback, OCI_INDEX)
    target = unique("imported/fallback")
    result = imported(registry, f"http://{distribution.host}/{src}:v1", f"{target}:v1", includeReferrers=True)
    assert [e["digest"] for e in result.of("manifest")] == [digest, ref_digest]
    assert referrer_digests(registry, target, digest) == [ref_digest]
    assert tags(registry, target) == ["v1"]


def test_source_side_failures_are_json_errors_before_the_stream(
        registry: RegistryServer, distribution: DistributionServer, source_cargohold: RegistryServer) -> None:
    target = f"{unique('imported/never')}:v1"
    src = unique("auth/app")
    with source_cargohold.client() as http:
        simple_image(http, src, "v1", unique("auth"))
    cases = [
        # wrong credentials at the source's token service
        (call_import(registry, f"http://{source_cargohold.host}/{src}:v1", target,
                     username=source_cargohold.username, password="wrong-password"), 400, "refused the credentials"),
        # no credentials for a source that requires them
        (call_import(registry, f"http://{source_cargohold.host}/{src}:v1", target), 400, "refused the anonymous"),
        # unknown tag and unknown digest
        (call_import(registry, f"http://{distribution.host}/nothing/here:v9", target), 404, "no tag v9"),
        (call_import(registry, f"http://{distribution.host}/nothing/here@sha256:{'0' * 64}", target), 404,
         "no manifest"),
        # nobody listening
        (call_import(registry, f"http://127.0.0.1:{_closed_port()}/x/y:1", target), 400, "cannot reach"),
        # no registry host
        (call_import(registry, "library/alpine:3.20", target), 400, "names no registry host"),
        # a malformed target
        (call_import(registry, f"http://{distribution.host}/x/y:1", "UPPER:case"), 400, ""),
    ]
    for result, status, text in cases:
        assert result.status == status, result
        assert result.content_type.startswith("application/json"), result
        assert text in result.error["message"], result
    assert tags(registry, target.split(":")[0]) is None


def test_request_body_is_strict(registry: RegistryServer) -> None:
    for body in ({"source": "a.b/c:d"}, {"source": "a.b/c:d", "targetTags": []},
                 {"source": "a.b/c:d", "targetTags": ["x:y"], "force": "true"},
                 {"source": "a.b/c:d", "targetTags": ["x:y"], "target_tags": ["x:y"]}):
        with httpx.Client(base_url=registry.url, auth=registry.basic_auth, timeout=30) as http:
            r = http.post("/api/import", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"][0]["code"] == "INVALID_ARGUMENT"
    with httpx.Client(base_url=registry.url, timeout=30) as http:
        r = http.post("/api/import", json={"source": "a.b/c:d", "targetTags": ["x:y"]})
    assert r.status_code == 401


def _closed_port() -> int:
    from support import free_port

    return free_port()


def test_a_lying_source_is_refused_and_nothing_is_written(registry: RegistryServer, liar: tuple[Liar, str]) -> None:
    fake, host = liar
    good = random_bytes("good-layer", 20_000)
    honest = random_bytes("honest-layer", 3_000_000)
    claimed = random_bytes("claimed-layer", 40_000)
    config = canonical({"architecture": "amd64", "os": "linux", "seed": unique("liar")})
    src = unique("liar/app")

    def image(layer_digest: str, layer_size: int) -> bytes:
        return canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": sha256(good), "size": len(good)},
                                     {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": sha256(honest), "size": len(honest)},
                                     {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": layer_digest, "size": layer_size}]})

    fake.blobs[f"{src}@{sha256(config)}"] = config
    fake.blobs[f"{src}@{sha256(good)}"] = good
    fake.blobs[f"{src}@{sha256(honest)}"] = honest
    # Same size, other bytes; and more bytes than declared.
    fake.blobs[f"{src}@{sha256(claimed)}"] = random_bytes("not-the-claimed-layer", 40_000)
    fake.manifests[f"{src}:swapped"] = (image(sha256(claimed), len(claimed)), OCI_MANIFEST)
    longer = random_bytes("too-long", 1000)
    fake.blobs[f"{src}@{sha256(longer)}"] = longer + b"extra"
    fake.manifests[f"{src}:longer"] = (image(sha256(longer), len(longer)), OCI_MANIFEST)
    # A manifest whose bytes do not match the digest it is asked by.
    fake.manifests[f"{src}:sha256:{'1' * 64}"] = (image(sha256(longer), len(longer)), OCI_MANIFEST)
    fake.manifests[f"{src}:schema1"] = (json.dumps({"schemaVersion": 1, "name": src, "tag": "schema1",
                                                    "fsLayers": []}).encode(),
                                        "application/vnd.docker.distribution.manifest.v1+prettyjws")

    usage_before = storage_used(registry)
    target = unique("imported/lies")
    for tag, text in (("swapped", "that hash to"), ("longer", "more than the")):
        result = call_import(registry, f"http://{host}/{src}:{tag}", f"{target}:{tag}")
        assert result.status == 200, result
        assert result.last["event"] == "error" and result.last["code"] == "INVALID_ARGUMENT", result
        assert text in result.last["message"] and "nothing was written" in result.last["message"], result
        assert not result.of("manifest") and not result.of("done")
    for reference, status, text in ((f"@sha256:{'1' * 64}", 400, "hash to"), (":schema1", 400, "schema1")):
        result = call_import(registry, f"http://{host}/{src}{reference}", f"{target}:x")
        assert result.status == status and text in result.error["message"], result

    assert tags(registry, target) is None  # no repository, no tag, no manifest
    for digest in (sha256(config), sha256(good), sha256(honest)):  # not even the blobs that were honest
        assert blob_status(registry, target, digest) == 404
    assert storage_used(registry) == usage_before


def test_a_client_that_leaves_mid_stream_stops_the_import(registry: RegistryServer, liar: tuple[Liar, str]) -> None:
    """The import stops, its pending uploads go, and the connection to the source is closed."""
    fake, host = liar
    src = unique("slow/app")
    _, _, layer, config = _honest(fake, src, random_bytes(unique("slow"), 24 << 20), slow=True)  # ~4 s
    key = f"{src}@{sha256(layer)}"
    uploads = registry.data_dir / "storage" / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    target = unique("imported/left")
    with httpx.Client(base_url=registry.url, auth=registry.basic_auth, timeout=60) as http, \
            http.stream("POST", "/api/import", json={"source": f"http://{host}/{src}:v1",
                                                     "targetTags": [f"{target}:v1"]}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if json.loads(line)["event"] == "progress":
                break  # leave while the layer is streaming
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (key not in fake.finished or
                                           (uploads.exists() and set(uploads.iterdir()) - before)):
        time.sleep(0.1)
    assert fake.finished.get(key) == "cut"  # the server hung up on the source before the end
    assert not (set(uploads.iterdir()) - before if uploads.exists() else set())  # no upload left behind
    assert tags(registry, target) is None
    assert blob_status(registry, target, sha256(config)) == 404


def _api(server: RegistryServer, method: str, path: str, body: object = None, expect: int = 200) -> object:
    with httpx.Client(base_url=server.url, auth=server.basic_auth, timeout=30) as http:
        r = http.request(method, path, json=body)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def test_locks_and_write_once_rules_refuse_before_anything_is_copied(
        registry: RegistryServer, distribution: DistributionServer) -> None:
    src = unique("locked")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        one, _, _ = simple_image(http, src, "one", unique("lock1"))
        two, _, _ = simple_image(http, src, "two", unique("lock2"))
    source_two = f"http://{distribution.host}/{src}:two"

    # A tag with writeEnabled false cannot be moved, not even with force.
    repo = unique("imported/taglock")
    imported(registry, f"http://{distribution.host}/{src}:one", f"{repo}:release")
    _api(registry, "PATCH", f"/api/repositories/{repo}/_tags/release", {"writeEnabled": False})
    refused = call_import(registry, source_two, f"{repo}:release", force=True)
    assert refused.status == 403 and refused.error["code"] == "DENIED", refused
    assert "release" in refused.error["message"] and "locked" in refused.error["message"], refused
    assert _digest_of(registry, repo, "release") == one
    assert blob_status(registry, repo, sha256(b"x")) == 404

    # A repository with writeEnabled false takes nothing.
    locked_repo = unique("imported/repolock")
    imported(registry, f"http://{distribution.host}/{src}:one", f"{locked_repo}:old")
    _api(registry, "PATCH", f"/api/repositories/{locked_repo}", {"writeEnabled": False})
    for target in (f"{locked_repo}:new", locked_repo):
        refused = call_import(registry, source_two, target)
        assert refused.status == 403 and locked_repo in refused.error["message"], refused
    assert tags(registry, locked_repo) == ["old"]
    assert manifest_bytes(registry, locked_repo, two)[0] == 404

    # A write-once tag is pushed once; force does not move it.
    once = unique("imported/once")
    rule = _api(registry, "POST", "/api/tag-rules", {"pattern": r"^v\d+$", "repository": once}, expect=201)
    imported(registry, f"http://{distribution.host}/{src}:one", f"{once}:v1")
    refused = call_import(registry, source_two, f"{once}:v1", force=True)
    assert refused.status == 403 and "write-once" in refused.error["message"], refused
    assert _digest_of(registry, once, "v1") == one
    imported(registry, source_two, f"{once}:latest")  # a tag the rule does not match moves freely
    assert isinstance(rule, dict)


def test_the_hard_storage_quota_refuses_an_import_and_leaves_usage_unchanged(
        fresh_registry: RegistryServer, distribution: DistributionServer) -> None:
    src = unique("quota")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        small, _, _ = simple_image(http, src, "small", unique("q1"), layer_size=1000)
        simple_image(http, src, "big", unique("q2"), layer_size=200_000)
    name = _api(fresh_registry, "GET", "/api/registry")["name"]  # type: ignore[index]
    imported(fresh_registry, f"http://{distribution.host}/{src}:small", "quota/app:small")
    used = _api(fresh_registry, "GET", f"/api/registries/{name}")["storageUsedBytes"]  # type: ignore[index]
    _api(fresh_registry, "PATCH", f"/api/registries/{name}", {"storageQuotaBytes": used + 50_000})
    time.sleep(2.2)  # the upload path caches "no quota" for 2 s (core/usage.py)
    usage_before = storage_used(fresh_registry)

    result = call_import(fresh_registry, f"http://{distribution.host}/{src}:big", "quota/app:big")
    assert result.status == 403, result
    assert result.error["code"] == "DENIED" and "quota" in result.error["message"], result
    assert storage_used(fresh_registry) == usage_before
    assert tags(fresh_registry, "quota/app") == ["small"]
    assert _digest_of(fresh_registry, "quota/app", "small") == small
    uploads = fresh_registry.data_dir / "storage" / "uploads"
    assert not list(uploads.iterdir())


def test_docker_schema2_image_and_manifest_list(
        registry: RegistryServer, distribution: DistributionServer, dist_clients: Clients,
        target_clients: Clients, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "src")
    amd = layout.image([make_layer({"amd": random_bytes("docker-amd", 6000)})], arch="amd64")
    arm = layout.image([make_layer({"arm": random_bytes("docker-arm", 7000)})], arch="arm64")
    layout.index([amd, arm], ref="list")
    src = unique("docker/list")
    digest = _push(dist_clients, layout.path, "list", src, "v2s2", "--all", "--format", "v2s2")
    status, top = _source_manifest(distribution, src, "v2s2")
    assert status == 200 and json.loads(top)["mediaType"] == DOCKER_LIST

    target = unique("imported/docker")
    result = imported(registry, f"http://{distribution.host}/{src}:v2s2", f"{target}:v2s2")
    assert result.last["digest"] == digest and result.events[0]["manifests"] == 3
    assert {e["mediaType"] for e in result.of("manifest")} == {DOCKER_LIST, DOCKER_MANIFEST}
    assert manifest_bytes(registry, target, "v2s2") == (200, top)
    for child in json.loads(top)["manifests"]:
        status, body = _source_manifest(distribution, src, child["digest"])
        assert manifest_bytes(registry, target, child["digest"]) == (200, body)
    out = tmp_path / "pulled"
    target_clients.skopeo("copy", "--all", "--src-tls-verify=false", "--src-creds", target_clients.creds,
                          target_clients.ref(target, "v2s2"), f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == top


def _source_manifest(server: DistributionServer, repo: str, reference: str) -> tuple[int, bytes]:
    accept = ", ".join([DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST])
    r = httpx.get(f"{server.url}/v2/{repo}/manifests/{reference}", headers={"Accept": accept}, timeout=30)
    return r.status_code, r.content


def _honest(fake: Liar, repo: str, layer: bytes | None = None, *,
            slow: bool = False) -> tuple[str, bytes, bytes, bytes]:
    """An image `repo:v1` the liar serves truthfully (its layer at a trickle when `slow`):
    (manifest digest, manifest, layer, config)."""
    layer = random_bytes(unique("layer"), 30_000) if layer is None else layer
    config = canonical({"architecture": "amd64", "os": "linux", "seed": unique("cfg")})
    manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": sha256(layer), "size": len(layer)}]})
    fake.manifests[f"{repo}:v1"] = (manifest, OCI_MANIFEST)
    fake.blobs[f"{repo}@{sha256(config)}"] = config
    (fake.slow if slow else fake.blobs)[f"{repo}@{sha256(layer)}"] = layer
    return sha256(manifest), manifest, layer, config


def test_plain_basic_challenges_and_redirected_blobs(registry: RegistryServer, liar: tuple[Liar, str]) -> None:
    fake, host = liar
    repo = unique("basic/app")
    digest, manifest, _, _ = _honest(fake, repo)
    source = f"http://{host}/{repo}:v1"
    for extra, text in (({}, "requires a username and password"),
                        ({"username": "puller", "password": "wrong"}, "refused the credentials")):
        refused = call_import(registry, source, f"{unique('imported/basic')}:v1", **extra)
        assert refused.status == 400 and text in refused.error["message"], refused
    target = unique("imported/basic")
    result = imported(registry, source, f"{target}:v1", username="puller", password="s3cret")
    assert result.last["digest"] == digest and manifest_bytes(registry, target, "v1") == (200, manifest)

    # A blob GET answered with a redirect (as registries backed by object stores do) is followed.
    repo = unique("redirect/app")
    digest, manifest, layer, _ = _honest(fake, repo)
    before = len(fake.storage_requests)
    target = unique("imported/redirect")
    result = imported(registry, f"http://{host}/{repo}:v1", f"{target}:v1")
    assert len(fake.storage_requests) - before == 2  # both blobs came from the redirect's target
    assert result.last["bytes"] == result.events[0]["bytes"]
    assert manifest_bytes(registry, target, "v1") == (200, manifest)
    assert blob_status(registry, target, sha256(layer)) == 200
