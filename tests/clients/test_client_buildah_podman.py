"""buildah (from scratch, copy, commit, push; bud FROM the registry) and podman (pull, tag, push, pull).

Credentials: buildah push/bud with --creds, `buildah login` for the bud module, `podman login` for podman;
each client then runs the registry's Docker token flow.
"""

from __future__ import annotations

import json
import shutil
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clienttools import Clients, fetch_image, unique_repo
from ociimages import host_arch

from support import RegistryServer, skip_unless_ci

pytestmark = pytest.mark.clients

HELLO = b"hello from a buildah scratch image\n"
ADDED = b"added by buildah bud COPY\n"


@dataclass(frozen=True)
class Pushed:
    repo: str
    tag: str
    digest: str
    config_digest: str


def _digest_file(clients: Clients) -> Path:
    return clients.tmp / f"digest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def module_clients(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    c = Clients(tmp_path_factory.mktemp("buildah-scratch"), registry)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def scratch_image(module_clients: Clients) -> Pushed:
    """buildah from scratch + copy + config + commit + push."""
    c = module_clients
    hello = c.root / "hello.txt"
    hello.write_bytes(HELLO)
    ctr = c.buildah("from", "--name", f"scratch-{uuid.uuid4().hex[:8]}", "scratch").stdout.strip()
    c.buildah("copy", ctr, str(hello), "/hello.txt")
    c.buildah("config", "--label", "test.label=buildah-scratch", "--env", "GREETING=hi", ctr)
    image_id = c.buildah("commit", "--format", "oci", "--quiet", ctr, "localhost/cargohold-scratch:latest")
    c.buildah("rm", ctr)
    repo = unique_repo("buildah-scratch")
    digest_file = _digest_file(c)
    c.buildah("push", "--tls-verify=false", "--creds", c.creds, "--digestfile", str(digest_file),
              "localhost/cargohold-scratch:latest", f"docker://{c.host}/{repo}:v1")
    return Pushed(repo=repo, tag="v1", digest=digest_file.read_text().strip(),
                  config_digest="sha256:" + image_id.stdout.strip().splitlines()[-1])


def test_buildah_scratch_commit_push(scratch_image: Pushed, registry: RegistryServer) -> None:
    """The image buildah committed from scratch is in the registry, config and layer intact."""
    manifest, config, files = fetch_image(registry, scratch_image.repo, scratch_image.tag)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == scratch_image.config_digest
    _, _, by_digest = fetch_image(registry, scratch_image.repo, scratch_image.digest)
    assert by_digest == files
    assert files == {"hello.txt": HELLO}
    assert config["config"]["Labels"]["test.label"] == "buildah-scratch"
    assert "GREETING=hi" in config["config"]["Env"]
    assert config["architecture"] == host_arch()


def _is_static_elf(path: Path) -> bool:
    """A 64-bit little-endian ELF executable without a PT_INTERP segment (runs with no libraries)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return 3 not in types  # PT_INTERP


def _bud(c: Clients, base: str, context: Path, extra_lines: list[str], tag: str, *extra: str) -> str:
    (context / "Containerfile").write_text("\n".join([f"FROM {base}", *extra_lines]) + "\n")
    image_id = c.buildah("bud", "--tls-verify=false", *extra, "--isolation", "chroot", "--layers=false",
                         "--format", "oci", "--quiet", "-f", str(context / "Containerfile"), "-t", tag,
                         str(context), timeout=300)
    return image_id.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def bud_clients(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    c = Clients(tmp_path_factory.mktemp("buildah-bud"), registry)
    c.login("buildah")  # bud's pull of the base and the push below use the stored credentials
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def bud_image(scratch_image: Pushed, bud_clients: Clients) -> Pushed:
    """buildah bud FROM the scratch image (pulled from the registry into empty storage) + COPY, pushed."""
    c = bud_clients
    context = c.root / "context"
    context.mkdir()
    (context / "added.txt").write_bytes(ADDED)
    image_id = _bud(c, f"{c.host}/{scratch_image.repo}:{scratch_image.tag}", context,
                    ["COPY added.txt /added.txt", "LABEL test.stage=bud"], "localhost/cargohold-bud:latest")
    repo = unique_repo("buildah-bud")
    digest_file = _digest_file(c)
    c.buildah("push", "--tls-verify=false", "--digestfile", str(digest_file),
              "localhost/cargohold-bud:latest", f"docker://{c.host}/{repo}:v1")
    return Pushed(repo=repo, tag="v1", digest=digest_file.read_text().strip(), config_digest="sha256:" + image_id)


def test_buildah_bud_from_registry_image(bud_image: Pushed, scratch_image: Pushed,
                                         registry: RegistryServer) -> None:
    """bud pulled the base from the registry and pushed base layer + COPY layer back."""
    _, base_config, _ = fetch_image(registry, scratch_image.repo, scratch_image.tag)
    manifest, config, files = fetch_image(registry, bud_image.repo, bud_image.digest)
    assert manifest["config"]["digest"] == bud_image.config_digest
    assert len(manifest["layers"]) == 2
    assert config["rootfs"]["diff_ids"][0] == base_config["rootfs"]["diff_ids"][0]
    assert files == {"hello.txt": HELLO, "added.txt": ADDED}
    assert config["config"]["Labels"]["test.stage"] == "bud"
    assert config["config"]["Labels"]["test.label"] == "buildah-scratch"  # inherited from the base


def test_buildah_bud_run_step_chroot(scratch_image: Pushed, clients: Clients, registry: RegistryServer) -> None:
    """A RUN step under --isolation chroot: the scratch base has no shell, so COPY in a static
    binary (glibc's static-pie ldconfig) and RUN it in exec form; its output file lands in a layer."""
    ldconfig = Path("/sbin/ldconfig")
    if not _is_static_elf(ldconfig):
        skip_unless_ci("no static /sbin/ldconfig to RUN in a scratch image")
    context = clients.root / "context"
    context.mkdir()
    shutil.copy(ldconfig, context / "ldconfig")
    (context / "ld.so.conf").write_bytes(b"")
    tag = "localhost/cargohold-run:latest"
    _bud(clients, f"{clients.host}/{scratch_image.repo}:{scratch_image.tag}", context, [
        "COPY ldconfig /sbin/ldconfig",
        "COPY ld.so.conf /etc/ld.so.conf",
        'RUN ["/sbin/ldconfig", "-C", "/etc/ld.so.cache", "-f", "/etc/ld.so.conf"]',
    ], tag, "--creds", clients.creds)
    repo = unique_repo("buildah-run")
    digest_file = _digest_file(clients)
    clients.buildah("push", "--tls-verify=false", "--creds", clients.creds, "--digestfile", str(digest_file), tag,
                    f"docker://{clients.host}/{repo}:v1")
    manifest, _, files = fetch_image(registry, repo, "v1")
    assert len(manifest["layers"]) == 2  # base + one layer for the whole stage (--layers=false)
    assert files["sbin/ldconfig"] == ldconfig.read_bytes()
    assert files["etc/ld.so.cache"].startswith(b"glibc-ld.so.cache")
    assert files["hello.txt"] == HELLO


def test_podman_pull_tag_push_pull(bud_image: Pushed, clients: Clients, registry: RegistryServer) -> None:
    """podman pulls the buildah image, tags it into another repository, pushes, and pulls it again."""
    src = f"{clients.host}/{bud_image.repo}:{bud_image.tag}"
    anonymous = clients.podman("pull", "--tls-verify=false", "--quiet", src, check=False)
    if not getattr(registry, "reference", False):
        assert anonymous.returncode != 0, "the registry let podman pull without credentials"
    assert "Login Succeeded" in clients.login("podman").stdout
    assert clients.podman("login", "--get-login", clients.host).stdout.strip() == registry.username
    image_id = clients.podman("pull", "--tls-verify=false", "--quiet", src).stdout.strip().splitlines()[-1]
    assert "sha256:" + image_id == bud_image.config_digest

    other_repo = unique_repo("podman-copy")
    dst = f"{clients.host}/{other_repo}:copied"
    clients.podman("tag", src, dst)
    digest_file = clients.tmp / "podman-digest"
    clients.podman("push", "--tls-verify=false", "--digestfile", str(digest_file), dst)
    pushed_digest = digest_file.read_text().strip()

    manifest, _, files = fetch_image(registry, other_repo, "copied")
    assert manifest["config"]["digest"] == bud_image.config_digest
    assert files == {"hello.txt": HELLO, "added.txt": ADDED}
    _, _, by_digest = fetch_image(registry, other_repo, pushed_digest)
    assert by_digest == files

    # forget everything locally, then pull the pushed copy back
    clients.podman("rmi", "--all", "--force")
    assert json.loads(clients.podman("images", "--format", "json").stdout or "[]") == []
    again = clients.podman("pull", "--tls-verify=false", "--quiet", dst).stdout.strip().splitlines()[-1]
    assert again == image_id
    info = json.loads(clients.podman("image", "inspect", dst).stdout)[0]
    assert info["Id"] == image_id
    assert info["Digest"] == pushed_digest
    assert f"{clients.host}/{other_repo}@{pushed_digest}" in info["RepoDigests"]
    assert info["Labels"]["test.stage"] == "bud"
