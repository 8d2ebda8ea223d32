"""skopeo against the registry: single- and multi-platform copies, inspect, list-tags, delete.

Credentials reach skopeo both ways people pass them: `skopeo login` into the auth file (the round
trip below), and --src-creds/--dest-creds/--creds (Clients.push_layout, pull_layout, inspect_raw).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from clienttools import Clients, unique_repo
from ociimages import (
    MT_INDEX,
    MT_MANIFEST,
    Layout,
    host_arch,
    make_layer,
    random_bytes,
    read_layout_blob,
    read_layout_ref,
    sha256,
)

from support import RegistryServer

pytestmark = pytest.mark.clients

MT_DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def assert_layout_holds(layout: Path, ref: str, manifest: bytes, blobs: dict[str, bytes]) -> None:
    """`ref` in the layout names exactly `manifest`, and every blob is there byte for byte."""
    desc = read_layout_ref(layout, ref)
    assert desc["digest"] == sha256(manifest)
    assert read_layout_blob(layout, sha256(manifest)) == manifest
    for digest, data in blobs.items():
        assert read_layout_blob(layout, digest) == data


def test_skopeo_single_platform_round_trip(clients: Clients, registry: RegistryServer, tmp_path: Path) -> None:
    """oci: layout -> docker:// -> oci: layout keeps every digest; inspect, list-tags and delete work."""
    layout = Layout(tmp_path / "src")
    base = make_layer({"etc/motd": b"hello from cargohold\n"})
    app = make_layer({"app/data.bin": random_bytes("single", 300 * 1024), "app/README": b"readme\n"})
    img = layout.image([base, app], label="single", ref="v1")
    repo = unique_repo("skopeo-single")
    # from here on, skopeo commands without --creds use what login stored in the auth file
    assert "Login Succeeded" in clients.login("skopeo").stdout

    pushed = clients.push_layout(layout.path, "v1", repo, "v1")
    assert pushed == img.digest

    # inspect --raw returns the very bytes pushed; --config --raw the config blob
    assert clients.inspect_raw(clients.ref(repo, "v1")) == img.manifest
    cfg = clients.skopeo("inspect", "--config", "--raw", "--tls-verify=false", clients.ref(repo, "v1")).stdout
    assert json.loads(cfg) == json.loads(img.config)

    # a second tag for the same manifest: every blob already exists, only the manifest is PUT
    assert clients.push_layout(layout.path, "v1", repo, "v2") == img.digest

    info = json.loads(clients.skopeo("inspect", "--tls-verify=false", clients.ref(repo, "v1")).stdout)
    assert info["Name"] == f"{registry.host}/{repo}"
    assert info["Digest"] == img.digest
    assert sorted(info["RepoTags"]) == ["v1", "v2"]
    assert info["Architecture"] == host_arch()
    assert info["Os"] == "linux"
    assert info["Layers"] == [base.digest, app.digest]
    assert info["Labels"] == {"test.label": "single"}

    tags = json.loads(clients.skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/{repo}").stdout)
    assert tags["Repository"] == f"{registry.host}/{repo}"
    assert sorted(tags["Tags"]) == ["v1", "v2"]

    # back out, by tag and by digest
    blobs = {img.config_digest: img.config, base.digest: base.blob, app.digest: app.blob}
    out = tmp_path / "out" / "layout"
    clients.pull_layout(repo, "v1", out, "v1")
    assert_layout_holds(out, "v1", img.manifest, blobs)
    clients.skopeo("copy", "--src-tls-verify=false", clients.ref(repo, digest=img.digest), f"oci:{out}:bydigest")
    assert_layout_holds(out, "bydigest", img.manifest, blobs)

    # the pulled layout unpacks to the files we put in
    bundle = tmp_path / "bundle"
    clients.umoci("unpack", "--image", f"{out}:v1", str(bundle))
    assert (bundle / "rootfs" / "etc" / "motd").read_bytes() == b"hello from cargohold\n"
    assert (bundle / "rootfs" / "app" / "data.bin").read_bytes() == app.files["app/data.bin"]

    # delete (skopeo resolves the tag, then DELETEs the manifest by digest)
    clients.skopeo("delete", "--tls-verify=false", clients.ref(repo, "v1"))
    gone = clients.skopeo("inspect", "--raw", "--tls-verify=false", clients.ref(repo, digest=img.digest), check=False)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower() or "not found" in gone.stderr.lower(), gone.stderr
    r = httpx.get(f"{registry.url}/v2/{repo}/manifests/{img.digest}",
                  headers={"Accept": MT_MANIFEST}, timeout=30, auth=registry.auth)
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    # the tags that pointed at it are gone too
    r = httpx.get(f"{registry.url}/v2/{repo}/tags/list", timeout=30, auth=registry.auth)
    if r.status_code == 200:
        assert not set(r.json().get("tags") or []) & {"v1", "v2"}, r.text
    else:
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_skopeo_multi_platform_all_preserves_index(clients: Clients, tmp_path: Path) -> None:
    """`copy --all` of a two-platform OCI index both ways keeps the index digest and both images."""
    layout = Layout(tmp_path / "src")
    shared = make_layer({"etc/os-release": b"ID=cargohold-test\n"})
    amd = make_layer({"bin/payload": random_bytes("multi-amd64", 200 * 1024)})
    arm = make_layer({"bin/payload": random_bytes("multi-arm64", 200 * 1024)})
    img_amd = layout.image([shared, amd], arch="amd64", label="amd64")
    img_arm = layout.image([shared, arm], arch="arm64", label="arm64")
    idx = layout.index([img_amd, img_arm], ref="multi")
    repo = unique_repo("skopeo-multi")

    pushed = clients.push_layout(layout.path, "multi", repo, "multi", "--all", "--preserve-digests")
    assert pushed == idx.digest
    raw = clients.inspect_raw(clients.ref(repo, "multi"))
    assert raw == idx.manifest
    assert json.loads(raw)["mediaType"] == MT_INDEX
    for img in (img_amd, img_arm):
        assert clients.inspect_raw(clients.ref(repo, digest=img.digest)) == img.manifest

    out = tmp_path / "out" / "layout"
    clients.pull_layout(repo, "multi", out, "multi", "--all", "--preserve-digests")
    assert_layout_holds(out, "multi", idx.manifest, {})
    for img in (img_amd, img_arm):
        assert read_layout_blob(out, img.digest) == img.manifest
        assert read_layout_blob(out, img.config_digest) == img.config
        for layer in img.layers:
            assert read_layout_blob(out, layer.digest) == layer.blob

    # without --all, a platform is selected from the index served by the registry
    arm_out = tmp_path / "out" / "arm"
    clients.skopeo("--override-arch", "arm64", "--override-os", "linux", "copy", "--src-tls-verify=false",
                   "--src-creds", clients.creds, clients.ref(repo, "multi"), f"oci:{arm_out}:arm")
    assert_layout_holds(arm_out, "arm", img_arm.manifest, {arm.digest: arm.blob, shared.digest: shared.blob})


def test_skopeo_docker_schema2_conversion(clients: Clients, tmp_path: Path) -> None:
    """`copy --format v2s2` stores a Docker schema2 manifest; it reads back with its media type and blobs."""
    layout = Layout(tmp_path / "src")
    layer = make_layer({"hello.txt": b"docker schema2\n"})
    img = layout.image([layer], label="v2s2", ref="v1")
    repo = unique_repo("skopeo-v2s2")

    pushed = clients.push_layout(layout.path, "v1", repo, "v1", "--format", "v2s2")
    raw = clients.inspect_raw(clients.ref(repo, "v1"))
    assert sha256(raw) == pushed
    manifest = json.loads(raw)
    assert manifest["mediaType"] == MT_DOCKER_V2
    assert [d["digest"] for d in manifest["layers"]] == [layer.digest]
    assert manifest["config"]["digest"] == img.config_digest  # the config JSON is not rewritten

    out = tmp_path / "out" / "layout"
    clients.pull_layout(repo, "v1", out, "v1", "--format", "oci")
    desc = read_layout_ref(out, "v1")
    pulled = json.loads(read_layout_blob(out, str(desc["digest"])))
    assert [d["digest"] for d in pulled["layers"]] == [layer.digest]
    assert read_layout_blob(out, layer.digest) == layer.blob


def test_skopeo_needs_credentials(clients: Clients, registry: RegistryServer, tmp_path: Path) -> None:
    """Without credentials, or with a wrong password, skopeo is refused; logging out takes the stored ones away."""
    if getattr(registry, "reference", False):
        pytest.skip("the reference registry runs without authentication")
    layout = Layout(tmp_path / "src")
    img = layout.image([make_layer({"secret.txt": b"for the owner only\n"})], label="creds", ref="v1")
    repo = unique_repo("skopeo-creds")
    src = f"oci:{layout.path}:v1"

    anonymous = clients.skopeo("copy", "--dest-tls-verify=false", src, clients.ref(repo, "v1"), check=False)
    assert anonymous.returncode != 0
    assert "unauthorized" in anonymous.stderr.lower() or "authentication required" in anonymous.stderr.lower(), (
        anonymous.stderr)
    wrong = f"{registry.username}:not-{registry.password}"
    refused = clients.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", wrong, src, clients.ref(repo, "v1"),
                             check=False)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower() or "invalid username or password" in refused.stderr.lower(), (
        refused.stderr)
    bad_login = clients.login("skopeo", password="not-" + registry.password, check=False)
    assert bad_login.returncode != 0, bad_login.stdout
    assert json.loads(clients.auth_file.read_text())["auths"] == {}  # nothing stored for a failed login

    assert clients.push_layout(layout.path, "v1", repo, "v1") == img.digest  # --dest-creds
    assert clients.inspect_raw(clients.ref(repo, "v1")) == img.manifest  # --creds
    denied = clients.skopeo("inspect", "--raw", "--tls-verify=false", clients.ref(repo, "v1"), check=False)
    assert denied.returncode != 0, denied.stdout

    clients.login("skopeo")
    assert clients.host in json.loads(clients.auth_file.read_text())["auths"]
    assert clients.skopeo("inspect", "--raw", "--tls-verify=false", clients.ref(repo, "v1")).stdout.encode() == (
        img.manifest)
    clients.skopeo("logout", "--authfile", str(clients.auth_file), clients.host)
    again = clients.skopeo("inspect", "--raw", "--tls-verify=false", clients.ref(repo, "v1"), check=False)
    assert again.returncode != 0, again.stdout
