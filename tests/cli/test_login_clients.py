"""After `cargohold login`, skopeo, podman, buildah and oras-py reach the registry with no credential flags."""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from pathlib import Path

import oras.client
import oras.decorator
import pytest
from clienttools import Clients, unique_repo
from clitools import Cli
from ociimages import Layout, make_layer, random_bytes

from support import RegistryServer

pytestmark = pytest.mark.clients


@pytest.fixture()
def clients(tmp_path: Path, cli_registry: RegistryServer) -> Iterator[Clients]:
    with Clients(tmp_path / "clients", cli_registry) as c:
        yield c


def cli_in(clients: Clients, server: RegistryServer, *, drop: tuple[str, ...] = ()) -> Cli:
    """A CLI that shares the container tools' environment (HOME, XDG dirs, REGISTRY_AUTH_FILE)."""
    cli = Cli(clients.root / "cli", server, owner=False)
    cli.env = {k: v for k, v in clients.env.items() if k not in drop} | {"CARGOHOLD_URL": server.url}
    clients.env = {k: v for k, v in clients.env.items() if k not in drop}
    return cli


def image_layout(tmp_path: Path, label: str) -> Layout:
    layout = Layout(tmp_path / f"layout-{label}")
    layer = make_layer({"etc/motd": f"hello {label}\n".encode(), "data.bin": random_bytes(label, 64 * 1024)})
    layout.image([layer], label=label, ref="v1")
    return layout


def push_inspect_pull(clients: Clients, layout: Layout, repo: str) -> None:
    ref = clients.ref(repo, "v1")
    clients.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", ref)
    info = json.loads(clients.skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert info["Name"] == f"{clients.host}/{repo}"
    clients.podman("pull", "--tls-verify=false", f"{clients.host}/{repo}:v1")
    images = clients.podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert f"{clients.host}/{repo}:v1" in images


def test_skopeo_and_podman_use_the_registry_auth_file(clients: Clients, cli_registry: RegistryServer,
                                                      tmp_path: Path) -> None:
    cli = cli_in(clients, cli_registry)
    repo = unique_repo("cli-login")
    layout = image_layout(tmp_path, "authfile")
    # Not logged in yet: refused.
    denied = clients.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", clients.ref(repo, "v1"),
                            check=False)
    assert denied.returncode != 0

    cli.ok("login", "-u", cli_registry.username, "--password-stdin", input=cli_registry.password)
    assert cli_registry.host in json.loads(clients.auth_file.read_text())["auths"]
    push_inspect_pull(clients, layout, repo)
    clients.buildah("pull", "--tls-verify=false", f"{clients.host}/{repo}:v1")

    cli.ok("logout")
    again = clients.skopeo("inspect", "--tls-verify=false", clients.ref(repo, "v1"), check=False)
    assert again.returncode != 0


def test_skopeo_and_podman_use_the_xdg_runtime_auth_file(clients: Clients, cli_registry: RegistryServer,
                                                         tmp_path: Path) -> None:
    """Without REGISTRY_AUTH_FILE, login writes ${XDG_RUNTIME_DIR}/containers/auth.json: podman's default."""
    cli = cli_in(clients, cli_registry, drop=("REGISTRY_AUTH_FILE",))
    cli.ok("login", "-u", cli_registry.username, "-p", cli_registry.password)
    written = Path(clients.env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    assert cli_registry.host in json.loads(written.read_text())["auths"]
    push_inspect_pull(clients, image_layout(tmp_path, "xdg"), unique_repo("cli-login-xdg"))


def test_a_token_login_limits_what_the_tools_may_do(clients: Clients, cli_registry: RegistryServer,
                                                    tmp_path: Path) -> None:
    """Log in as a pull-only repository token: pulls work, pushes are refused."""
    owner = cli_in(clients, cli_registry)
    owner.ok("login", "-u", cli_registry.username, "-p", cli_registry.password)
    repo = unique_repo("cli-token")
    layout = image_layout(tmp_path, "token")
    clients.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", clients.ref(repo, "v1"))

    name = "cli-" + repo.rsplit("-", 1)[1]
    password = owner.json("token", "create", "-n", name, "--repository", repo, "content/read",
                          "--query", "credentials.passwords[0].value")
    try:
        tool = Clients(tmp_path / "token-clients", cli_registry)
        try:
            cli_token = cli_in(tool, cli_registry)
            cli_token.ok("login", "-u", name, "-p", password)
            # content/read without metadata/read: pulls work, tag listing does not (ACR's semantics),
            # so inspect without --no-tags would be refused.
            tool.skopeo("inspect", "--no-tags", "--tls-verify=false", tool.ref(repo, "v1"))
            tool.podman("pull", "--tls-verify=false", f"{tool.host}/{repo}:v1")
            pushed = tool.skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", tool.ref(repo, "v2"),
                                 check=False)
            assert pushed.returncode != 0
        finally:
            tool.close()
    finally:
        owner.ok("token", "delete", "-n", name, "--yes")
        owner.ok("scope-map", "delete", "-n", f"{name}-scope-map", "--yes")


def test_oras_reads_the_docker_config(clients: Clients, cli_registry: RegistryServer, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cli = cli_in(clients, cli_registry)
    cli.ok("login", "-u", cli_registry.username, "-p", cli_registry.password)
    repo = unique_repo("cli-oras")
    clients.skopeo("copy", "--dest-tls-verify=false", f"oci:{image_layout(tmp_path, 'oras').path}:v1",
                   clients.ref(repo, "v1"))

    monkeypatch.setenv("HOME", clients.env["HOME"])  # oras-py reads ~/.docker/config.json
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setattr(oras.decorator, "time", types.SimpleNamespace(sleep=lambda s: time.sleep(min(s, 0.2))))
    manifest = oras.client.OrasClient(hostname=cli_registry.host, insecure=True).get_manifest(
        f"{cli_registry.host}/{repo}:v1")
    assert manifest["schemaVersion"] == 2 and manifest["layers"]
