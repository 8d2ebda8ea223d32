"""Every client with every kind of credential (issue 3, "Tested"): skopeo, podman, buildah and oras-py log in
and push and pull through the Docker bearer flow as

- a user (AcrPush on `creds/*`),
- a service principal (client id + secret; AcrPush on `creds/*`),
- the admin user (enabled through the API), with `password` and with `password2`,
- a repository token (content/read + content/write on `creds/token-app` only — a pull elsewhere is refused),
- a federated workload identity (AcrPush on `creds/*`): a token minted by a real OIDC issuer on 127.0.0.1,
  exchanged at /oauth2/exchange for a refresh token, which the client uses as the password of
  `00000000-0000-0000-0000-000000000000` — no secret anywhere.

Each client signs in its normal way: `skopeo login`, `podman login`, `buildah login` into the test's own auth
file (the later commands read it), oras-py's `login`. Every (client, credential) pair pushes an image (oras-py:
an artifact) and pulls it back into empty storage; with the token, a pull from a repository outside its scope
map fails.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from clienttools import Clients
from ociimages import Layout, make_layer, random_bytes, read_layout_ref
from test_client_oras import ArtifactClient

from support import OUTBOUND_LOOPBACK, RegistryBearerAuth, RegistryServer, running_registry
from support_oidc import OidcIssuer

pytestmark = pytest.mark.clients

REFRESH_USER = "00000000-0000-0000-0000-000000000000"
TOKEN_REPO = "creds/token-app"
SEED_REPO = "creds/seed"  # pushed by the owner; the token may not read it
SUBJECT = "repo:cargohold/ci:ref:refs/heads/main"
CREDENTIALS = ["user", "service-principal", "admin-password", "admin-password2", "token", "workload"]
CLIENTS = ["skopeo", "podman", "buildah", "oras"]


@dataclass(frozen=True)
class Credential:
    kind: str
    username: str
    password: str

    def repo(self, client: str) -> str:
        """Where this credential pushes: the token's one repository, else a new one below creds/."""
        return TOKEN_REPO if self.kind == "token" else f"creds/{client}-{self.kind}-{uuid.uuid4().hex[:6]}"


@dataclass
class As:
    """The registry under test seen with one credential (what clienttools.Clients needs of a server)."""

    server: RegistryServer
    username: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    @property
    def auth(self) -> httpx.Auth:
        return RegistryBearerAuth(self.username, self.password)


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as i:
        yield i


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry of its own (two workers) that trusts http://127.0.0.1 issuers."""
    data = tmp_path_factory.mktemp("client-credentials") / "data"
    env = {"CARGOHOLD_ALLOW_INSECURE_ISSUERS": "true", **OUTBOUND_LOOPBACK}
    with running_registry(data, workers=2, extra_env=env) as s:
        yield s


@pytest.fixture(scope="module")
def credentials(server: RegistryServer, issuer: OidcIssuer) -> dict[str, Credential]:
    """One credential of each kind, all made through the management API as the owner."""
    with httpx.Client(base_url=server.url + "/api", auth=server.basic_auth, timeout=60) as api:
        def call(method: str, path: str, body: object = None, status: int = 200) -> dict[str, object]:
            r = api.request(method, path, json=body)
            assert r.status_code == status, (method, path, r.status_code, r.text)
            result: dict[str, object] = r.json()
            return result

        password = "pw-" + secrets.token_urlsafe(18)
        call("POST", "/users", {"name": "ci-user", "password": password}, 201)
        call("POST", "/role-assignments", {"assignee": "ci-user", "role": "AcrPush", "scope": "repositories/creds/*"},
             201)
        sp = call("POST", "/service-principals", {"name": "ci pipeline"}, 201)
        call("POST", "/role-assignments", {"assignee": sp["clientId"], "assigneeKind": "servicePrincipal",
                                           "role": "AcrPush", "scope": "repositories/creds/*"}, 201)
        admin = call("PATCH", "/registry", {"adminUserEnabled": True})["adminCredentials"]
        assert isinstance(admin, dict)
        admin_passwords = {p["name"]: p["value"] for p in admin["passwords"]}
        token = call("POST", "/tokens", {"name": "ci-token", "repositories": [TOKEN_REPO],
                                         "actions": ["content/read", "content/write"]}, 201)
        token_passwords = token["credentials"]["passwords"]  # type: ignore[index]
        call("POST", "/workload-identities", {"name": "ci-workload"}, 201)
        call("POST", "/workload-identities/ci-workload/federated-credentials",
             {"name": "main-branch", "issuer": issuer.url, "subject": SUBJECT}, 201)
        call("POST", "/role-assignments", {"assignee": "ci-workload", "assigneeKind": "workloadIdentity",
                                           "role": "AcrPush", "scope": "repositories/creds/*"}, 201)

    # the workload's only secret-free way in: its OIDC token for a refresh token
    r = httpx.post(server.url + "/oauth2/exchange", timeout=30, data={
        "grant_type": "access_token", "access_token": issuer.mint(SUBJECT), "service": server.host})
    assert r.status_code == 200, r.text
    refresh = r.json()["refresh_token"]

    made = [
        Credential("user", "ci-user", password),
        Credential("service-principal", str(sp["clientId"]), str(sp["clientSecret"])),
        Credential("admin-password", str(admin["username"]), admin_passwords["password"]),
        Credential("admin-password2", str(admin["username"]), admin_passwords["password2"]),
        Credential("token", "ci-token", token_passwords[0]["value"]),
        Credential("workload", REFRESH_USER, refresh),
    ]
    return {c.kind: c for c in made}


@pytest.fixture(scope="module")
def seeded(server: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image the owner pushed to creds/seed (outside the token's scope map); its digest."""
    root = tmp_path_factory.mktemp("credentials-seed")
    layout = Layout(root / "layout")
    img = layout.image([make_layer({"seed.txt": b"seeded by the owner\n"})], label="seed", ref="v1")
    c = Clients(root / "clients", server)
    try:
        assert c.push_layout(layout.path, "v1", SEED_REPO, "v1") == img.digest
    finally:
        c.close()
    return img.digest


@pytest.fixture()
def make_clients(server: RegistryServer, tmp_path: Path) -> Iterator[Callable[[Credential, str], Clients]]:
    """make_clients(credential, name) → skopeo/podman/buildah with storage and an auth file of their own."""
    made: list[Clients] = []

    def make(credential: Credential, name: str) -> Clients:
        c = Clients(tmp_path / name, As(server, credential.username, credential.password))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def image_layout(root: Path, label: str) -> tuple[Layout, str, str]:
    """A one-layer image in an OCI layout tagged v1: (layout, manifest digest, config digest)."""
    layout = Layout(root)
    files = {"app/hello.txt": f"pushed as {label}\n".encode(), "app/data.bin": random_bytes(label, 48 * 1024)}
    img = layout.image([make_layer(files)], label=label, ref="v1")
    return layout, img.digest, img.config_digest


def refused(proc_stderr: str) -> bool:
    text = proc_stderr.lower()
    return any(word in text for word in ("unauthorized", "denied", "authentication required", "401", "403"))


# ------------------------------------------------------------------------------------------ the clients


def run_skopeo(c: Clients, credential: Credential, seed_digest: str) -> None:
    assert "Login Succeeded" in c.login("skopeo").stdout
    layout, manifest_digest, _ = image_layout(c.root / "layout", f"skopeo-{credential.kind}")
    repo, tag = credential.repo("skopeo"), f"skopeo-{credential.kind}"
    digest_file = c.tmp / "digest"
    c.skopeo("copy", "--dest-tls-verify=false", "--digestfile", str(digest_file), f"oci:{layout.path}:v1",
             c.ref(repo, tag))
    assert digest_file.read_text().strip() == manifest_digest
    out = c.root / "pulled"
    c.skopeo("copy", "--src-tls-verify=false", c.ref(repo, tag), f"oci:{out}:v1")
    assert read_layout_ref(out, "v1")["digest"] == manifest_digest
    if credential.kind == "token":
        p = c.skopeo("copy", "--src-tls-verify=false", c.ref(SEED_REPO, "v1"), f"oci:{c.root / 'elsewhere'}:v1",
                     check=False)
        assert p.returncode != 0 and refused(p.stderr), p.stderr
    else:  # the others may pull what the owner pushed below creds/
        c.skopeo("copy", "--src-tls-verify=false", c.ref(SEED_REPO, "v1"), f"oci:{c.root / 'seed'}:v1")
        assert read_layout_ref(c.root / "seed", "v1")["digest"] == seed_digest


def _containers_round_trip(tool: str, c: Clients, credential: Credential) -> None:
    """podman or buildah: login, take an image from an OCI layout, push it, forget it, pull it back."""
    run = c.podman if tool == "podman" else c.buildah
    assert "Login Succeeded" in c.login(tool).stdout
    layout, _, config_digest = image_layout(c.root / "layout", f"{tool}-{credential.kind}")
    run("pull", "--quiet", f"oci:{layout.path}:v1")
    target = f"{c.host}/{credential.repo(tool)}:{tool}-{credential.kind}"
    run("tag", config_digest.split(":", 1)[1], target)
    run("push", "--tls-verify=false", target)
    run("rmi", "--all", "--force")
    pulled = run("pull", "--tls-verify=false", "--quiet", target).stdout.strip().splitlines()[-1]
    assert "sha256:" + pulled.removeprefix("sha256:") == config_digest
    if credential.kind == "token":
        p = run("pull", "--tls-verify=false", "--quiet", f"{c.host}/{SEED_REPO}:v1", check=False)
        assert p.returncode != 0 and refused(p.stderr), p.stderr


def run_podman(c: Clients, credential: Credential, seed_digest: str) -> None:
    _containers_round_trip("podman", c, credential)


def run_buildah(c: Clients, credential: Credential, seed_digest: str) -> None:
    _containers_round_trip("buildah", c, credential)


def run_oras(c: Clients, credential: Credential, seed_digest: str) -> None:
    client = ArtifactClient(hostname=c.host, insecure=True)
    client.artifact_type = "application/vnd.cargohold.test.credentials.v1"
    client.login(credential.username, credential.password, hostname=c.host,
                 config_path=str(c.root / "docker-config.json"))
    src = c.root / "files"
    src.mkdir()
    payload = random_bytes(f"oras-{credential.kind}", 20_000)
    (src / "payload.bin").write_bytes(payload)
    target = f"{c.host}/{credential.repo('oras')}:oras-{credential.kind}"
    resp = client.push(target=target, files=[f"{src / 'payload.bin'}:application/octet-stream"],
                       manifest_config="empty-config.json:application/vnd.oci.empty.v1+json",
                       disable_path_validation=True, quiet=True)
    assert resp.status_code == 201, resp.text
    out = c.root / "out"
    client.pull(target=target, outdir=str(out))
    assert (out / "payload.bin").read_bytes() == payload
    if credential.kind == "token":
        with pytest.raises(Exception) as refusal:
            client.get_manifest(f"{c.host}/{SEED_REPO}:v1")
        assert refused(str(refusal.value)), refusal.value
    else:
        manifest = client.get_manifest(f"{c.host}/{SEED_REPO}:v1")
        assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"


RUNNERS = {"skopeo": run_skopeo, "podman": run_podman, "buildah": run_buildah, "oras": run_oras}


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("client", CLIENTS)
def test_client_pushes_and_pulls_with_credential(client: str, credential: str, credentials: dict[str, Credential],
                                                 seeded: str, make_clients: Callable[[Credential, str], Clients],
                                                 ) -> None:
    cred = credentials[credential]
    RUNNERS[client](make_clients(cred, client), cred, seeded)


def test_login_log_names_every_kind(credentials: dict[str, Credential], server: RegistryServer) -> None:
    """Sign-ins with each credential are in the login log under the kind of identity they matched."""
    for cred in credentials.values():
        r = httpx.get(server.url + "/oauth2/token", auth=(cred.username, cred.password), timeout=30,
                      params={"service": server.host, "scope": f"repository:{TOKEN_REPO}:pull"})
        assert r.status_code == 200, (cred.kind, r.text)
    r = httpx.get(server.url + "/api/logs/login", auth=server.basic_auth, params={"top": "1000",
                                                                                 "outcome": "success"})
    assert r.status_code == 200, r.text
    kinds = {e["identityKind"] for e in r.json()}
    assert {"user", "service_principal", "admin", "token", "workload"} <= kinds, kinds
    assert all(c.password not in json.dumps(r.json()) for c in credentials.values())  # secrets are never logged
