"""Small, deterministic OCI image layouts for the client tests (stdlib and support only).

Layers are real tar archives (so buildah/podman/umoci can unpack them) wrapped in
gzip at deflate level 0, like ../shared/bench/make_images.py: skopeo then treats
them as already compressed and copies the bytes unchanged, so digests survive a
push and a pull.
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import random
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from support import OCI_CONFIG as MT_CONFIG
from support import OCI_EMPTY as MT_EMPTY  # noqa: F401 - the client tests import it from here
from support import OCI_INDEX as MT_INDEX
from support import OCI_MANIFEST as MT_MANIFEST
from support import canonical, sha256

MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
EPOCH = "1970-01-01T00:00:00Z"


def host_arch() -> str:
    """The GOARCH name of this machine (what podman/buildah select by default)."""
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def random_bytes(seed: str, size: int) -> bytes:
    """Incompressible bytes fully determined by `seed`."""
    return random.Random(seed).randbytes(size)


@dataclass(frozen=True)
class Layer:
    blob: bytes
    diff_id: str
    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        return sha256(self.blob)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": MT_LAYER_GZIP, "digest": self.digest, "size": len(self.blob)}


def make_layer(files: dict[str, bytes]) -> Layer:
    """A tar+gzip(level 0) layer holding `files` (path -> content), directories added as needed."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        seen_dirs: set[str] = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in seen_dirs:
                    seen_dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
                    ti.uname = ti.gname = "root"
                    tar.addfile(ti)
            ti = tarfile.TarInfo("/".join(parts))
            ti.size, ti.mode, ti.mtime = len(files[path]), 0o644, 0
            ti.uname = ti.gname = "root"
            tar.addfile(ti, io.BytesIO(files[path]))
    tar_bytes = raw.getvalue()
    comp = zlib.compressobj(0, zlib.DEFLATED, 31)  # 31: gzip wrapper, mtime 0
    blob = comp.compress(tar_bytes) + comp.flush()
    return Layer(blob=blob, diff_id=sha256(tar_bytes), files=dict(files))


@dataclass
class Image:
    """One image manifest written into a layout."""

    manifest: bytes
    config: bytes
    layers: list[Layer]
    platform: dict[str, str]

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": MT_MANIFEST, "digest": self.digest, "size": len(self.manifest),
                "platform": dict(self.platform)}

    @property
    def files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for layer in self.layers:
            out.update(layer.files)
        return out


@dataclass
class Index:
    manifest: bytes
    images: list[Image]

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


@dataclass
class Layout:
    """An OCI image layout directory (oci-layout, index.json, blobs/sha256/...)."""

    path: Path
    refs: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self._write_index()

    def add_blob(self, data: bytes) -> str:
        dg = sha256(data)
        p = self.path / "blobs" / "sha256" / dg.split(":", 1)[1]
        if not p.exists():
            p.write_bytes(data)
        return dg

    def image(self, layers: list[Layer], *, arch: str | None = None, os_name: str = "linux",
              label: str = "", ref: str | None = None) -> Image:
        """Write an image (config + layers + manifest); tag it `ref` in index.json if given."""
        arch = arch or host_arch()
        config = canonical({
            "created": EPOCH,
            "architecture": arch,
            "os": os_name,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Labels": {"test.label": label}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": EPOCH, "created_by": f"ociimages layer {i}"} for i in range(len(layers))],
        })
        self.add_blob(config)
        for layer in layers:
            self.add_blob(layer.blob)
        manifest = canonical({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [layer.descriptor() for layer in layers],
        })
        self.add_blob(manifest)
        img = Image(manifest=manifest, config=config, layers=list(layers),
                    platform={"architecture": arch, "os": os_name})
        if ref is not None:
            self.refs[ref] = img.descriptor()
            self._write_index()
        return img

    def index(self, images: list[Image], *, ref: str | None = None) -> Index:
        """Write an OCI image index over `images`; tag it `ref` in index.json if given."""
        body = canonical({"schemaVersion": 2, "mediaType": MT_INDEX,
                          "manifests": [img.descriptor() for img in images]})
        self.add_blob(body)
        idx = Index(manifest=body, images=list(images))
        if ref is not None:
            self.refs[ref] = {"mediaType": MT_INDEX, "digest": idx.digest, "size": len(body)}
            self._write_index()
        return idx

    def _write_index(self) -> None:
        manifests = [{**desc, "annotations": {REF_NAME: ref}} for ref, desc in self.refs.items()]
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}, indent=1))


def read_layout_ref(path: Path, ref: str) -> dict[str, object]:
    """The index.json descriptor tagged `ref` in an OCI layout (written by skopeo or by us)."""
    index = json.loads((path / "index.json").read_text())
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get(REF_NAME) == ref:
            return dict(desc)
    raise KeyError(f"{ref!r} not in {path}/index.json: {index}")


def read_layout_blob(path: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":", 1)
    data = (path / "blobs" / algo / hexd).read_bytes()
    assert sha256(data) == digest, f"blob {digest} in {path} does not match its digest"
    return data


def layer_files(blob: bytes) -> dict[str, bytes]:
    """Regular files in a (gzip or plain) tar layer, path -> content."""
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                out[name.lstrip("/")] = f.read()
    return out
