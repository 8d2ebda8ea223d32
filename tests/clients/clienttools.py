"""Run real container clients (skopeo, podman, buildah, umoci) in an isolated environment.

Every `Clients` owns a folder with its own containers-storage (vfs), runroot,
temp dir, HOME, auth file, registries.conf (the registry under test marked
insecure) and storage.conf, so tests never touch /var/lib/containers or each
other. Every subprocess runs with a timeout.

The registry requires authentication, so the clients authenticate as its owner the
way people do: `--creds`/`--src-creds`/`--dest-creds` on the command line, or
`<tool> login` into the per-test auth file (REGISTRY_AUTH_FILE). Either way the
client runs the Docker token flow (401 challenge, token from the realm, retry).
Reads straight over HTTP use the server's `auth` (support.RegistryBearerAuth).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from ociimages import layer_files

from support import ACCEPT_MANIFESTS, require_tool, sha256, unique


class Server(Protocol):
    host: str
    url: str
    log_path: Path
    username: str

    @property
    def password(self) -> str: ...

    @property
    def auth(self) -> httpx.Auth: ...


def unique_repo(prefix: str) -> str:
    """A repository name no other test (or earlier run against the session registry) uses."""
    return "clients/" + unique(prefix)


def log_tail(server: Server, lines: int = 40) -> str:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])


class ClientError(AssertionError):
    pass


class Clients:
    def __init__(self, root: Path, server: Server) -> None:
        self.root = root
        self.server = server
        self.host = server.host
        self.storage = root / "storage"
        self.tmp = root / "tmp"
        self.home = root / "home"
        # podman refuses a runroot longer than 50 characters, and pytest's tmp_path is longer:
        # keep the run state in a short folder of our own, removed by close().
        self._short = Path(tempfile.mkdtemp(prefix="chc-", dir="/tmp"))
        self.runroot = self._short / "run"
        self.libpod_tmp = self._short / "libpod"
        for d in (self.storage, self.runroot, self.tmp, self.home, self.libpod_tmp, root / "xdg-run"):
            d.mkdir(parents=True, exist_ok=True)
        (root / "xdg-run").chmod(0o700)
        self.auth_file = root / "auth.json"
        self.auth_file.write_text(json.dumps({"auths": {}}))
        self.registries_conf = root / "registries.conf"
        self.registries_conf.write_text(
            "unqualified-search-registries = []\n"
            "short-name-mode = \"disabled\"\n\n"
            "[[registry]]\n"
            f"location = \"{self.host}\"\n"
            "insecure = true\n"
        )
        (root / "registries.d").mkdir(exist_ok=True)
        self.storage_conf = root / "storage.conf"
        self.storage_conf.write_text(
            "[storage]\n"
            "driver = \"vfs\"\n"
            f"graphroot = \"{self.storage}\"\n"
            f"runroot = \"{self.runroot}\"\n"
        )
        self.containers_conf = root / "containers.conf"
        self.containers_conf.write_text(
            "[engine]\n"
            "events_logger = \"file\"\n"
            "cgroup_manager = \"cgroupfs\"\n"
            f"image_copy_tmp_dir = \"{self.tmp}\"\n"
        )
        self.policy = root / "policy.json"
        self.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(root / "xdg-run"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "TMPDIR": str(self.tmp),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "LANG": "C.UTF-8",
        }

    def close(self) -> None:
        shutil.rmtree(self._short, ignore_errors=True)

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------------------------

    @property
    def creds(self) -> str:
        """USERNAME:PASSWORD of the registry's owner, for skopeo's and buildah's --creds flags."""
        return f"{self.server.username}:{self.server.password}"

    def login(self, tool: str, *extra: str, password: str | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        """`<tool> login --tls-verify=false -u owner --password-stdin HOST` into this folder's auth file."""
        argv = ["login", "--tls-verify=false", "--authfile", str(self.auth_file), "--username",
                self.server.username, "--password-stdin", *extra, self.host]
        secret = self.server.password if password is None else password
        runner = {"skopeo": self.skopeo, "podman": self.podman, "buildah": self.buildah}[tool]
        return runner(*argv, input=secret + "\n", check=check)

    def run(self, argv: list[str], *, timeout: float = 120, check: bool = True,
            cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            if input is None:
                proc = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True,
                                      timeout=timeout, stdin=subprocess.DEVNULL)
            else:
                proc = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True,
                                      timeout=timeout, input=input)
        except subprocess.TimeoutExpired as exc:
            raise ClientError(
                f"timed out after {timeout}s: {self._shown(argv)}\n"
                f"stdout: {_tail(exc.stdout)}\nstderr: {_tail(exc.stderr)}\n"
                f"--- registry log ({self.server.log_path}) ---\n{log_tail(self.server)}"
            ) from None
        if check and proc.returncode != 0:
            raise ClientError(
                f"exit {proc.returncode}: {self._shown(argv)}\n"
                f"stdout: {_tail(proc.stdout)}\nstderr: {_tail(proc.stderr)}\n"
                f"--- registry log ({self.server.log_path}) ---\n{log_tail(self.server)}"
            )
        return proc

    def _shown(self, argv: list[str]) -> str:
        """The command line for a failure message, the password masked."""
        return " ".join(argv).replace(self.server.password, "***")

    def skopeo(self, *args: str, timeout: float = 120, check: bool = True,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        exe = require_tool("skopeo")
        return self.run([exe, "--policy", str(self.policy), "--registries.d", str(self.root / "registries.d"),
                         "--tmpdir", str(self.tmp), *args], timeout=timeout, check=check, input=input)

    def _storage_flags(self) -> list[str]:
        return ["--root", str(self.storage), "--runroot", str(self.runroot), "--storage-driver", "vfs"]

    def podman(self, *args: str, timeout: float = 120, check: bool = True,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        exe = require_tool("podman")
        return self.run([exe, *self._storage_flags(), "--events-backend", "file", "--cgroup-manager", "cgroupfs",
                         "--tmpdir", str(self.libpod_tmp), *args], timeout=timeout, check=check, input=input)

    def buildah(self, *args: str, timeout: float = 180, check: bool = True,
                cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        exe = require_tool("buildah")
        return self.run([exe, *self._storage_flags(), "--registries-conf", str(self.registries_conf), *args],
                        timeout=timeout, check=check, cwd=cwd, input=input)

    def umoci(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = require_tool("umoci")
        return self.run([exe, *args], timeout=timeout, check=check)

    # -- conveniences ---------------------------------------------------------------------------

    def ref(self, repo: str, tag: str | None = None, digest: str | None = None) -> str:
        """A `docker://` reference into the registry under test."""
        base = f"docker://{self.host}/{repo}"
        return base + (f"@{digest}" if digest else f":{tag or 'latest'}")

    def push_layout(self, layout: Path, ref: str, repo: str, tag: str, *extra: str) -> str:
        """skopeo copy --dest-creds oci:LAYOUT:REF -> registry; returns the digest skopeo reports."""
        digestfile = self.tmp / f"digest-{uuid.uuid4().hex[:8]}"
        self.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", self.creds, "--digestfile", str(digestfile),
                    *extra, f"oci:{layout}:{ref}", self.ref(repo, tag))
        return digestfile.read_text().strip()

    def pull_layout(self, repo: str, tag: str, layout: Path, ref: str, *extra: str) -> None:
        """skopeo copy --src-creds registry -> oci:LAYOUT:REF (the layout's parent must exist)."""
        layout.parent.mkdir(parents=True, exist_ok=True)
        self.skopeo("copy", "--src-tls-verify=false", "--src-creds", self.creds, *extra, self.ref(repo, tag),
                    f"oci:{layout}:{ref}")

    def inspect_raw(self, ref: str) -> bytes:
        """`skopeo inspect --raw --creds` of a docker:// reference: the manifest bytes as served."""
        exe = require_tool("skopeo")
        argv = [exe, "--policy", str(self.policy), "inspect", "--raw", "--tls-verify=false", "--creds", self.creds,
                ref]
        try:
            proc = subprocess.run(argv, env=self.env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ClientError(f"timed out: {self._shown(argv)}") from None
        if proc.returncode != 0:
            raise ClientError(f"exit {proc.returncode}: {self._shown(argv)}\nstderr: {_tail(proc.stderr)}\n"
                              f"--- registry log ---\n{log_tail(self.server)}")
        return proc.stdout


def _tail(data: str | bytes | None, limit: int = 3000) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    return data[-limit:]


# -- reading images straight over HTTP -------------------------------------------------------------


def fetch_image(server: Server, repo: str, reference: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """GET a single-platform image over HTTP and check it end to end.

    Every blob must match its digest, every layer must decompress to its config
    diff_id. Returns (manifest, config, files) where files merges all layers.
    """
    with httpx.Client(base_url=server.url, timeout=60, auth=server.auth) as http:
        r = http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": ACCEPT_MANIFESTS})
        assert r.status_code == 200, (r.status_code, r.text)
        manifest = r.json()
        if reference.startswith("sha256:"):
            assert sha256(r.content) == reference
        assert r.headers.get("Docker-Content-Digest", sha256(r.content)) == sha256(r.content)
        r = http.get(f"/v2/{repo}/blobs/{manifest['config']['digest']}")
        assert r.status_code == 200, (r.status_code, r.text)
        assert sha256(r.content) == manifest["config"]["digest"]
        config = r.json()
        diff_ids = config["rootfs"]["diff_ids"]
        assert len(diff_ids) == len(manifest["layers"])
        files: dict[str, bytes] = {}
        for desc, diff_id in zip(manifest["layers"], diff_ids, strict=True):
            r = http.get(f"/v2/{repo}/blobs/{desc['digest']}")
            assert r.status_code == 200, (desc, r.status_code, r.text)
            assert len(r.content) == desc["size"]
            assert sha256(r.content) == desc["digest"]
            raw = gzip.decompress(r.content) if r.content[:2] == b"\x1f\x8b" else r.content
            assert sha256(raw) == diff_id
            files.update(layer_files(raw))
    return manifest, config, files


def with_query(url: str, **params: str) -> str:
    """Add query parameters to an upload Location that may already carry its own (e.g. `_state`).

    httpx's `params=` replaces the URL's query string rather than extending it.
    """
    sep = "&" if "?" in url else "?"
    return url + sep + urlencode(params)
