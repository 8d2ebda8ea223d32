"""Eight skopeo processes pushing at once, images sharing layers, into one and several repositories."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from clienttools import Clients, fetch_image, unique_repo
from ociimages import Image, Layout, make_layer, random_bytes, read_layout_blob, read_layout_ref

from support import RegistryServer

pytestmark = pytest.mark.clients

PUSHERS = 8


def _pull_and_check(clients: Clients, repo: str, tag: str, img: Image, out: Path) -> None:
    clients.pull_layout(repo, tag, out, tag)
    assert read_layout_ref(out, tag)["digest"] == img.digest
    assert read_layout_blob(out, img.digest) == img.manifest
    assert read_layout_blob(out, img.config_digest) == img.config
    for layer in img.layers:
        assert read_layout_blob(out, layer.digest) == layer.blob


def test_eight_concurrent_pushes_sharing_layers(clients: Clients, registry: RegistryServer, tmp_path: Path) -> None:
    """8 simultaneous `skopeo copy` (4 tags of one repository, 4 repositories) racing on shared blobs all succeed,
    and every image pulls back byte for byte."""
    layout = Layout(tmp_path / "src")
    base = make_layer({"base/runtime.bin": random_bytes("conc-base", 3 * 1024 * 1024)})
    lib = make_layer({"lib/shared.bin": random_bytes("conc-lib", 768 * 1024)})
    images: list[Image] = []
    for i in range(PUSHERS):
        own = make_layer({f"app/{i}.bin": random_bytes(f"conc-own-{i}", 256 * 1024 + i)})
        layers = [base, lib, own] if i % 2 == 0 else [base, own]
        images.append(layout.image(layers, label=f"conc-{i}", ref=f"img{i}"))
    shared_repo = unique_repo("conc-shared")
    targets = [(shared_repo, f"t{i}") if i < PUSHERS // 2 else (unique_repo(f"conc-{i}"), "v1")
               for i in range(PUSHERS)]

    with ThreadPoolExecutor(PUSHERS) as pool:
        futures = [pool.submit(clients.push_layout, layout.path, f"img{i}", repo, tag)
                   for i, (repo, tag) in enumerate(targets)]
        digests = [f.result() for f in futures]
    assert digests == [img.digest for img in images]

    r = httpx.get(f"{registry.url}/v2/{shared_repo}/tags/list", timeout=30, auth=registry.auth)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["tags"]) == [f"t{i}" for i in range(PUSHERS // 2)]
    for repo, _ in targets:
        r = httpx.head(f"{registry.url}/v2/{repo}/blobs/{base.digest}", timeout=30, auth=registry.auth)
        assert r.status_code == 200, (repo, r.status_code)
        assert int(r.headers["Content-Length"]) == len(base.blob)

    # pull everything back, concurrently as well
    with ThreadPoolExecutor(PUSHERS) as pool:
        futures = [pool.submit(_pull_and_check, clients, repo, tag, images[i], tmp_path / "out" / f"p{i}")
                   for i, (repo, tag) in enumerate(targets)]
        for f in futures:
            f.result()
    for i, (repo, tag) in enumerate(targets):
        manifest, _, files = fetch_image(registry, repo, tag)
        assert files == images[i].files
        assert [d["digest"] for d in manifest["layers"]] == [layer.digest for layer in images[i].layers]


def test_eight_concurrent_pushes_of_one_image(clients: Clients, registry: RegistryServer, tmp_path: Path) -> None:
    """8 simultaneous pushes of the *same* image (same blobs, same repository, 8 tags): no lost or torn blob."""
    layout = Layout(tmp_path / "src")
    layers = [make_layer({"same/a.bin": random_bytes("same-a", 1024 * 1024)}),
              make_layer({"same/b.bin": random_bytes("same-b", 512 * 1024)})]
    img = layout.image(layers, label="same", ref="same")
    repo = unique_repo("conc-same")
    with ThreadPoolExecutor(PUSHERS) as pool:
        futures = [pool.submit(clients.push_layout, layout.path, "same", repo, f"c{i}") for i in range(PUSHERS)]
        assert {f.result() for f in futures} == {img.digest}
    r = httpx.get(f"{registry.url}/v2/{repo}/tags/list", timeout=30, auth=registry.auth)
    assert sorted(r.json()["tags"]) == sorted(f"c{i}" for i in range(PUSHERS))
    for i in range(PUSHERS):
        _, _, files = fetch_image(registry, repo, f"c{i}")
        assert files == img.files
    _pull_and_check(clients, repo, "c0", img, tmp_path / "out")
