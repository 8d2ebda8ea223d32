"""oras-py artifacts (files + artifactType) and the referrers API (subject -> GET /v2/<name>/referrers/<digest>)."""

from __future__ import annotations

import json
import time
import types
from pathlib import Path
from typing import Any

import httpx
import oras.client
import oras.decorator
import oras.oci
import pytest
from clienttools import Clients, unique_repo, with_query
from ociimages import MT_EMPTY, MT_INDEX, MT_MANIFEST, Layout, canonical, make_layer, random_bytes, sha256

from support import RegistryServer

pytestmark = pytest.mark.clients

ARTIFACT_TYPE = "application/vnd.cargohold.test.bundle.v1"
SBOM_TYPE = "application/vnd.cargohold.test.sbom.v1+json"
SIG_CONFIG_TYPE = "application/vnd.cargohold.test.signature.config.v1+json"
EMPTY_CONFIG = f"empty-config.json:{MT_EMPTY}"  # a path that does not exist -> oras uploads "{}"


class ArtifactClient(oras.client.OrasClient):  # type: ignore[misc]
    """oras-py 0.2 cannot set a manifest's `artifactType`; add it just before the manifest PUT.

    And its token backend keeps a single bearer token: after a 401 with `error="insufficient_scope"` it
    sends the same token again (oras-project/oras-py#187: a push starts with a HEAD, which earns a pull-only
    token, and the upload POST is then refused for good). Like Docker clients, ask the realm for a token
    for the challenged scope instead.
    """

    artifact_type: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # oras-py passes no timeout to requests: give every request one
        request = self.session.request
        self.session.request = lambda *a, **kw: request(*a, **{"timeout": 60, **kw})  # type: ignore[method-assign]
        authenticate = self.auth.authenticate_request

        def authenticate_request(original: Any, headers: dict[str, str], refresh: bool = False) -> Any:
            challenge = original.headers.get("Www-Authenticate", "")
            stale = 'error="insufficient_scope"' in challenge or 'error="invalid_token"' in challenge
            return authenticate(original, headers, refresh or stale)

        self.auth.authenticate_request = authenticate_request

    def upload_manifest(self, manifest: dict[str, Any], container: Any) -> Any:
        if self.artifact_type:
            manifest["artifactType"] = self.artifact_type
        return super().upload_manifest(manifest, container)


@pytest.fixture(autouse=True)
def _fast_oras_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """oras-py retries a failing request five times with sleeps up to 83 s; keep failures quick."""
    monkeypatch.setattr(oras.decorator, "time", types.SimpleNamespace(sleep=lambda s: time.sleep(min(s, 0.2))))


def oras_client(server: RegistryServer, config_dir: Path, artifact_type: str | None = None) -> ArtifactClient:
    """An oras-py client over plain HTTP, logged in as the registry's owner (the docker config it writes
    stays in `config_dir`)."""
    client = ArtifactClient(hostname=server.host, insecure=True)
    client.artifact_type = artifact_type
    config_dir.mkdir(parents=True, exist_ok=True)
    client.login(server.username, server.password, hostname=server.host,
                 config_path=str(config_dir / "docker-config.json"))
    return client


def get_manifest(server: RegistryServer, repo: str, ref: str) -> httpx.Response:
    r = httpx.get(f"{server.url}/v2/{repo}/manifests/{ref}", timeout=30, auth=server.auth,
                  headers={"Accept": f"{MT_MANIFEST}, {MT_INDEX}"})
    assert r.status_code == 200, (r.status_code, r.text)
    return r


def write_files(base: Path) -> dict[str, bytes]:
    files = {
        "notes.txt": b"an artifact, not an image\n",
        "model.bin": random_bytes("oras-model", 1536 * 1024 + 7),
    }
    base.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (base / name).write_bytes(data)
    return files


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_oras_push_pull_artifact(registry: RegistryServer, tmp_path: Path, chunked: bool) -> None:
    """oras-py pushes files as an artifact (artifactType, layer media types, annotations) and pulls them back."""
    src = tmp_path / "src"
    files = write_files(src)
    repo = unique_repo("oras-artifact")
    target = f"{registry.host}/{repo}:v1"
    client = oras_client(registry, tmp_path / "oras", ARTIFACT_TYPE)
    resp = client.push(
        target=target,
        files=[f"{src / 'notes.txt'}:text/plain", f"{src / 'model.bin'}:application/vnd.cargohold.test.model"],
        manifest_config=EMPTY_CONFIG,
        manifest_annotations={"org.opencontainers.image.description": "client test artifact"},
        disable_path_validation=True,
        do_chunked=chunked,
        chunk_size=512 * 1024,
        quiet=True,
    )
    assert resp.status_code == 201, resp.text
    digest = resp.headers["Docker-Content-Digest"]

    r = get_manifest(registry, repo, "v1")
    assert sha256(r.content) == digest
    assert r.headers["Content-Type"] == MT_MANIFEST
    manifest = r.json()
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"] == {"mediaType": MT_EMPTY, "size": 2, "digest": sha256(b"{}")}
    assert manifest["annotations"]["org.opencontainers.image.description"] == "client test artifact"
    assert [(d["mediaType"], d["annotations"]["org.opencontainers.image.title"]) for d in manifest["layers"]] == [
        ("text/plain", "notes.txt"), ("application/vnd.cargohold.test.model", "model.bin")]

    out = tmp_path / "out"
    pulled = client.pull(target=target, outdir=str(out))
    assert sorted(Path(p).name for p in pulled) == sorted(files)
    for name, data in files.items():
        assert (out / name).read_bytes() == data

    # and by digest, with the registry's own view of the manifest
    assert client.get_manifest(f"{registry.host}/{repo}@{digest}")["artifactType"] == ARTIFACT_TYPE


@pytest.fixture()
def subject_image(clients: Clients, tmp_path: Path) -> tuple[str, bytes]:
    """An image pushed with skopeo, to hang referrers on: (repo, manifest bytes)."""
    layout = Layout(tmp_path / "subject")
    img = layout.image([make_layer({"app/bin": b"\x7fELF pretend\n"})], label="subject", ref="v1")
    repo = unique_repo("referrers")
    assert clients.push_layout(layout.path, "v1", repo, "v1") == img.digest
    return repo, img.manifest


def push_handmade_referrer(server: RegistryServer, repo: str, subject: bytes, payload: bytes) -> httpx.Response:
    """A signature-like manifest by digest: no artifactType, so its config mediaType is its type."""
    with httpx.Client(base_url=server.url, timeout=30, auth=server.auth) as http:
        for blob in (b"{}", payload):
            r = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(blob)}, content=blob,
                          headers={"Content-Type": "application/octet-stream"})
            if r.status_code == 202:  # monolithic POST not supported: PUT to the session
                r = http.put(with_query(r.headers["Location"], digest=sha256(blob)), content=blob,
                             headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, (r.status_code, r.text)
        body = canonical({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": SIG_CONFIG_TYPE, "digest": sha256(b"{}"), "size": 2},
            "layers": [{"mediaType": "application/vnd.cargohold.test.signature", "digest": sha256(payload),
                        "size": len(payload)}],
            "subject": {"mediaType": MT_MANIFEST, "digest": sha256(subject), "size": len(subject)},
        })
        r = http.put(f"/v2/{repo}/manifests/{sha256(body)}", content=body, headers={"Content-Type": MT_MANIFEST})
        assert r.status_code == 201, (r.status_code, r.text)
        assert r.headers["Docker-Content-Digest"] == sha256(body)
        return r


def referrers(server: RegistryServer, repo: str, digest: str, artifact_type: str | None = None) -> httpx.Response:
    params = {"artifactType": artifact_type} if artifact_type else None
    r = httpx.get(f"{server.url}/v2/{repo}/referrers/{digest}", params=params, timeout=30, auth=server.auth)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].split(";")[0] == MT_INDEX
    body = r.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == MT_INDEX
    return r


def skip_on_reference(server: RegistryServer) -> None:
    if getattr(server, "reference", False):
        pytest.skip("CNCF Distribution 2.8 has no referrers API")


def test_referrers_lists_oras_and_handmade_artifacts(registry: RegistryServer, subject_image: tuple[str, bytes],
                                                   tmp_path: Path) -> None:
    """Artifacts with `subject` (one via oras-py, one hand-made) are listed by GET /v2/<name>/referrers/<digest>."""
    skip_on_reference(registry)
    repo, subject = subject_image
    subject_digest = sha256(subject)

    # nothing refers to it yet: an empty index, not a 404
    assert referrers(registry, repo, subject_digest).json()["manifests"] == []

    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(json.dumps({"packages": ["cargohold-test"]}).encode())
    resp = oras_client(registry, tmp_path / "oras", SBOM_TYPE).push(
        target=f"{registry.host}/{repo}:sbom",
        files=[f"{sbom}:application/spdx+json"],
        manifest_config=EMPTY_CONFIG,
        manifest_annotations={"org.example.kind": "sbom"},
        subject=oras.oci.Subject(mediaType=MT_MANIFEST, digest=subject_digest, size=len(subject)),
        disable_path_validation=True,
        quiet=True,
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers.get("OCI-Subject") == subject_digest, dict(resp.headers)
    sbom_digest = resp.headers["Docker-Content-Digest"]
    sbom_manifest = get_manifest(registry, repo, sbom_digest).content

    sig = push_handmade_referrer(registry, repo, subject, b"signature bytes")
    assert sig.headers.get("OCI-Subject") == subject_digest, dict(sig.headers)
    sig_digest = sig.headers["Docker-Content-Digest"]

    listed = {d["digest"]: d for d in referrers(registry, repo, subject_digest).json()["manifests"]}
    assert set(listed) == {sbom_digest, sig_digest}
    # descriptors carry artifactType and the manifest's annotations (distribution-spec 1.1: MUST)
    assert listed[sbom_digest] == {
        "mediaType": MT_MANIFEST, "digest": sbom_digest, "size": len(sbom_manifest),
        "artifactType": SBOM_TYPE, "annotations": {"org.example.kind": "sbom"},
    }
    assert listed[sig_digest]["artifactType"] == SIG_CONFIG_TYPE  # config mediaType stands in
    assert listed[sig_digest]["mediaType"] == MT_MANIFEST

    # the referrer found this way is an ordinary artifact oras-py can pull
    out = tmp_path / "pulled"
    oras_client(registry, tmp_path / "oras").pull(target=f"{registry.host}/{repo}@{sbom_digest}", outdir=str(out))
    assert (out / "sbom.json").read_bytes() == sbom.read_bytes()

    # deleting a referrer takes it off the list
    r = httpx.delete(f"{registry.url}/v2/{repo}/manifests/{sig_digest}", timeout=30, auth=registry.auth)
    assert r.status_code == 202, (r.status_code, r.text)
    assert [d["digest"] for d in referrers(registry, repo, subject_digest).json()["manifests"]] == [sbom_digest]


def test_referrers_artifact_type_filter(registry: RegistryServer, subject_image: tuple[str, bytes],
                                       tmp_path: Path) -> None:
    """`?artifactType=` returns only matching referrers and says so in OCI-Filters-Applied."""
    skip_on_reference(registry)
    repo, subject = subject_image
    subject_digest = sha256(subject)
    sig = push_handmade_referrer(registry, repo, subject, b"sig one")
    sig_digest = sig.headers["Docker-Content-Digest"]
    # a second artifact type, pushed with oras-py's artifactType
    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(b'{"packages": []}')
    resp = oras_client(registry, tmp_path / "oras", SBOM_TYPE).push(
        target=f"{registry.host}/{repo}:sbom", files=[f"{sbom}:application/spdx+json"],
        manifest_config=EMPTY_CONFIG, disable_path_validation=True, quiet=True,
        subject=oras.oci.Subject(mediaType=MT_MANIFEST, digest=subject_digest, size=len(subject)))
    assert resp.status_code == 201, resp.text
    sbom_digest = resp.headers["Docker-Content-Digest"]

    assert {d["digest"] for d in referrers(registry, repo, subject_digest).json()["manifests"]} == {
        sig_digest, sbom_digest}
    for artifact_type, expected in ((SIG_CONFIG_TYPE, sig_digest), (SBOM_TYPE, sbom_digest)):
        r = referrers(registry, repo, subject_digest, artifact_type)
        assert r.headers.get("OCI-Filters-Applied") == "artifactType", (
            f"no OCI-Filters-Applied header for ?artifactType= (a SHOULD in distribution-spec 1.1): {dict(r.headers)}")
        assert [d["digest"] for d in r.json()["manifests"]] == [expected]
        assert r.json()["manifests"][0]["artifactType"] == artifact_type
    r = referrers(registry, repo, subject_digest, "application/vnd.cargohold.test.nothing")
    assert r.json()["manifests"] == []


def test_referrers_subject_pushed_after_referrer(registry: RegistryServer, clients: Clients,
                                                 tmp_path: Path) -> None:
    """A manifest whose subject does not exist yet is accepted (spec MUST) and listed once the subject arrives."""
    skip_on_reference(registry)
    layout = Layout(tmp_path / "late")
    img = layout.image([make_layer({"late.txt": b"pushed after its referrer\n"})], label="late", ref="v1")
    repo = unique_repo("referrers-late")
    sig = push_handmade_referrer(registry, repo, img.manifest, b"early signature")
    sig_digest = sig.headers["Docker-Content-Digest"]
    assert [d["digest"] for d in referrers(registry, repo, img.digest).json()["manifests"]] == [sig_digest]
    assert clients.push_layout(layout.path, "v1", repo, "v1") == img.digest
    assert [d["digest"] for d in referrers(registry, repo, img.digest).json()["manifests"]] == [sig_digest]
