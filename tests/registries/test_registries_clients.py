"""Registries with real clients: skopeo pushes routed by host, usage counted once per distinct blob,
and the hard storage quota refusing a push while leaving usage as it was."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from clienttools import Clients
from clitools import Cli
from mgmttools import Api
from ociimages import Layout, make_layer, random_bytes
from regtools import Created, create_registry

from support import RegistryBearerAuth, RegistryServer


@dataclass
class Hosted:
    """A registry of the server, as clients see it at its own login server (clienttools.Server)."""

    host: str
    url: str
    log_path: Path
    username: str
    password: str

    @property
    def auth(self) -> httpx.Auth:
        return RegistryBearerAuth(self.username, self.password)


def _layout(root: Path, seed: str, sizes: tuple[int, ...] = (40_000, 70_000)) -> tuple[Path, int, list[str]]:
    """An OCI layout holding one image tagged `v1`: (path, bytes of its config and layers, their digests)."""
    layout = Layout(root / f"layout-{seed}")
    layers = [make_layer({f"data/{seed}-{i}": random_bytes(f"{seed}-{i}", size)}) for i, size in enumerate(sizes)]
    image = layout.image(layers, label=seed, ref="v1")
    total = len(image.config) + sum(len(layer.blob) for layer in layers)
    return layout.path, total, [image.config_digest, *(layer.digest for layer in layers)]


def _usage(api: Api) -> dict[str, int]:
    return {r["name"]: r["currentValue"] for r in api.get("/registry/usage")["value"]
            if r["name"] not in ("StorageCapacity", "StorageFree")}  # those move with the disk (issue 9)


def _catalog(url: str, host: str, username: str, password: str) -> list[str]:
    response = httpx.get(url + "/v2/_catalog", headers={"Host": host}, auth=(username, password), timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["repositories"])


@pytest.fixture()
def localhost_registry(operator: Api, ops_registry: RegistryServer) -> Iterator[Created]:
    """A second registry whose login server is `localhost:PORT`: the same server, reached by another name."""
    created = create_registry(operator, "Standard", login_server=f"localhost:{ops_registry.port}")
    yield created
    operator.call("DELETE", f"/registries/{created.name}")


def test_skopeo_pushes_are_routed_by_host(tmp_path: Path, ops_registry: RegistryServer,
                                          localhost_registry: Created) -> None:
    second = Hosted(localhost_registry.login_server, f"http://{localhost_registry.login_server}",
                    ops_registry.log_path, "owner", localhost_registry.owner_password)
    layout, _, _ = _layout(tmp_path, "routing")
    tag = uuid.uuid4().hex[:8]
    on_second, on_default = f"second/app-{tag}", f"first/app-{tag}"
    clients_second = Clients(tmp_path / "c2", second)
    clients_default = Clients(tmp_path / "c1", ops_registry)
    try:
        clients_second.push_layout(layout, "v1", on_second, "v1")
        clients_default.push_layout(layout, "v1", on_default, "v1")
        # Each registry has its own repositories...
        second_repos = _catalog(ops_registry.url, second.host, "owner", second.password)
        default_repos = _catalog(ops_registry.url, ops_registry.host, ops_registry.username, ops_registry.password)
        assert on_second in second_repos and on_default not in second_repos
        assert on_default in default_repos and on_second not in default_repos
        # ... and its own credentials: the default owner's password is refused at localhost, and back.
        refused = clients_second.skopeo("inspect", "--tls-verify=false", "--creds", clients_default.creds,
                                        clients_second.ref(on_second, "v1"), check=False)
        assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower(), refused.stderr
        refused = clients_default.skopeo("inspect", "--tls-verify=false", "--creds", clients_second.creds,
                                         clients_default.ref(on_default, "v1"), check=False)
        assert refused.returncode != 0
        pulled = clients_second.skopeo("inspect", "--tls-verify=false", "--creds", clients_second.creds,
                                       clients_second.ref(on_second, "v1"))
        assert json.loads(pulled.stdout)["Labels"]["test.label"] == "routing"
    finally:
        clients_second.close()
        clients_default.close()


def test_usage_counts_each_distinct_blob_once(tmp_path: Path, operator: Api, ops_registry: RegistryServer,
                                              localhost_registry: Created) -> None:
    second = Hosted(localhost_registry.login_server, f"http://{localhost_registry.login_server}",
                    ops_registry.log_path, "owner", localhost_registry.owner_password)
    layout, total, digests = _layout(tmp_path, "usage")
    clients = Clients(tmp_path / "c", second)
    try:
        with localhost_registry.api(ops_registry.url) as own:
            assert _usage(own)["Size"] == 0
            clients.push_layout(layout, "v1", "usage/one", "v1")
            assert _usage(own)["Size"] == total
            clients.push_layout(layout, "v1", "usage/two", "v1")  # the same blobs in another repository
            assert _usage(own)["Size"] == total
            # A cross-repository mount links, it adds nothing.
            mount = httpx.post(ops_registry.url + "/v2/usage/three/blobs/uploads/",
                               params={"mount": digests[1], "from": "usage/one"}, headers={"Host": second.host},
                               auth=("owner", second.password), timeout=30)
            assert mount.status_code == 201, mount.text
            assert _usage(own)["Size"] == total
            # The operator sees the same figure; the default registry's usage is its own.
            rows = {r["name"]: r for r in operator.get(f"/registries/{localhost_registry.name}/usage")["value"]}
            assert rows["Size"]["currentValue"] == total and rows["Size"]["unit"] == "Bytes"
            assert rows["Size"]["limit"] == 100 * 1024**3  # Standard includes 100 GiB
            assert "StorageQuota" not in rows
            # Past the included storage (an override makes it small): reported, and warned about by the CLI.
            operator.patch(f"/registries/{localhost_registry.name}",
                           {"limitOverrides": {"storage_included_bytes": 1000}})
            report = operator.get(f"/registries/{localhost_registry.name}/usage")
            assert report["storageOverIncludedBytes"] == total - 1000
            shown = Cli(tmp_path / "cli", ops_registry).run("show-usage", "-n", localhost_registry.name, "-o", "table")
            assert shown.returncode == 0 and re.search(rf"Size\s+1000\s+{total}\s+Bytes", shown.stdout), str(shown)
            assert shown.stderr == f"warning: storage exceeds the SKU's included amount by {total - 1000} bytes\n"
    finally:
        clients.close()


def test_hard_quota_refuses_a_skopeo_push_and_leaves_usage_unchanged(
        tmp_path: Path, operator: Api, ops_registry: RegistryServer, localhost_registry: Created) -> None:
    second = Hosted(localhost_registry.login_server, f"http://{localhost_registry.login_server}",
                    ops_registry.log_path, "owner", localhost_registry.owner_password)
    first, first_total, _ = _layout(tmp_path, "quota-first", sizes=(30_000,))
    big, _, big_digests = _layout(tmp_path, "quota-big", sizes=(50_000, 60_000))
    clients = Clients(tmp_path / "c", second)
    name = localhost_registry.name
    try:
        with localhost_registry.api(ops_registry.url) as own:
            clients.push_layout(first, "v1", "quota/app", "v1")
            assert _usage(own)["Size"] == first_total
            operator.patch(f"/registries/{name}", {"storageQuotaBytes": first_total + 100})
            before = _usage(own)
            assert before["StorageQuota"] == first_total
            refused = clients.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", clients.creds,
                                     f"oci:{big}:v1", clients.ref("quota/app", "v2"), check=False)
            assert refused.returncode != 0
            assert f"storage quota of registry '{name}' exceeded" in refused.stderr, refused.stderr
            assert _usage(own) == before
            # Nothing half-written: none of the refused blobs is known to the registry.
            for digest in big_digests:
                head = httpx.head(ops_registry.url + f"/v2/quota/app/blobs/{digest}", headers={"Host": second.host},
                                  auth=("owner", second.password))
                assert head.status_code == 404
            tags = httpx.get(ops_registry.url + "/v2/quota/app/tags/list", headers={"Host": second.host},
                             auth=("owner", second.password)).json()["tags"]
            assert tags == ["v1"]
            # Raising the quota lets the same push through.
            operator.patch(f"/registries/{name}", {"storageQuotaBytes": None})
            clients.push_layout(big, "v1", "quota/app", "v2")
            assert _usage(own)["Size"] > first_total
    finally:
        clients.close()


def test_an_upload_larger_than_the_room_left_is_refused_early(operator: Api, ops_registry: RegistryServer) -> None:
    created = create_registry(operator, "Basic", storageQuotaBytes=1000)
    auth = ("owner", created.owner_password)
    with created.host_client(ops_registry.url, auth=auth) as http:
        start = http.post("/v2/early/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["location"]

        def body() -> Iterator[bytes]:
            for _ in range(64):  # 64 MiB offered; refused after the first MiB or two
                yield b"x" * (1 << 20)

        refused = http.patch(location, content=body(), headers={"Content-Type": "application/octet-stream"})
        assert refused.status_code == 403, refused.text
        error = refused.json()["errors"][0]
        assert error["code"] == "DENIED"
        assert f"storage quota of registry '{created.name}' exceeded: 0 bytes used of 1000" in error["message"]
        assert http.get(location).status_code == 404  # the session is gone
        # A monolithic push past the quota: DENIED, nothing recorded.
        data = b"y" * 2000
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        mono = http.post("/v2/early/blobs/uploads/", params={"digest": digest}, content=data)
        assert mono.status_code == 403 and mono.json()["errors"][0]["code"] == "DENIED"
        assert http.head(f"/v2/early/blobs/{digest}").status_code == 404
        # Within the quota it works, and exactly fills it.
        fits = b"z" * 1000
        digest = "sha256:" + hashlib.sha256(fits).hexdigest()
        assert http.post("/v2/early/blobs/uploads/", params={"digest": digest}, content=fits).status_code == 201
        one_more = b"!"
        digest = "sha256:" + hashlib.sha256(one_more).hexdigest()
        full = http.post("/v2/early/blobs/uploads/", params={"digest": digest}, content=one_more)
        assert full.status_code == 403 and "1000 bytes used of 1000" in full.json()["errors"][0]["message"]
    operator.delete(f"/registries/{created.name}")
