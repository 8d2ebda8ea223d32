"""The operator scenarios of issue 4 with a real client (skopeo) and the CLI, on a 2-worker server:

(a) a release tag pushed, its digest recorded, the tag locked; a second push to the tag and a delete are
    refused, while pulls by tag and by digest keep working;
(b) a tag overwritten; `repository show-manifests` lists the old manifest untagged and it still pulls
    by digest.

Each writes its transcript (commands and their output) to $CARGOHOLD_TRANSCRIPT_DIR when that is set.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from clienttools import Clients
from clitools import Cli, Result
from ociimages import Layout, make_layer, random_bytes

from support import RegistryServer

pytestmark = pytest.mark.clients


class Transcript:
    """Runs CLI and skopeo commands and keeps what an operator would have seen."""

    def __init__(self, cli: Cli, clients: Clients, server: RegistryServer) -> None:
        self.cli = cli
        self.clients = clients
        self.server = server
        self.lines: list[str] = []

    def _record(self, shown: str, stdout: str, stderr: str, code: int) -> None:
        self.lines.append(f"$ {shown}")
        self.lines.extend(text.rstrip("\n") for text in (stdout, stderr) if text.strip())
        if code:
            self.lines.append(f"(exit {code})")
        self.lines.append("")

    def cargohold(self, *args: str, code: int = 0) -> Result:
        result = self.cli.run(*args)
        self._record("cargohold " + shlex.join(args), result.stdout, result.stderr, result.returncode)
        assert result.returncode == code, str(result)
        return result

    def skopeo(self, *args: str, ok: bool = True) -> str:
        """skopeo with the owner's credentials (masked in the transcript); stdout + stderr."""
        creds_flag = {"copy": ("--src-creds", "--dest-creds"), "inspect": ("--creds",)}[args[0]]
        creds: list[str] = []
        for flag in creds_flag:
            creds += [flag, self.clients.creds]
        tls = ["--src-tls-verify=false", "--dest-tls-verify=false"] if args[0] == "copy" else ["--tls-verify=false"]
        proc = self.clients.skopeo(args[0], *tls, *creds, *args[1:], check=False)
        shown = ["skopeo", args[0], *tls, *[c if c != self.clients.creds else "owner:***" for c in creds], *args[1:]]
        self._record(shlex.join(shown).replace(str(self.clients.root.parent), "."), proc.stdout, proc.stderr,
                     proc.returncode)
        assert (proc.returncode == 0) == ok, (proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout + proc.stderr

    def write(self, name: str) -> None:
        target = os.environ.get("CARGOHOLD_TRANSCRIPT_DIR")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            (Path(target) / name).write_text("\n".join(self.lines))


@pytest.fixture()
def transcript(tmp_path: Path, server: RegistryServer) -> Iterator[Transcript]:
    clients = Clients(tmp_path / "clients", server)
    try:
        yield Transcript(Cli(tmp_path / "cli", server), clients, server)
    finally:
        clients.close()


def _two_images(root: Path) -> tuple[Layout, str, str]:
    layout = Layout(root)
    base = make_layer({"etc/release": b"app\n"})
    one = layout.image([base, make_layer({"app/bin": random_bytes("one", 64 * 1024)})], label="one", ref="one")
    two = layout.image([base, make_layer({"app/bin": random_bytes("two", 64 * 1024)})], label="two", ref="two")
    return layout, one.digest, two.digest


def test_locked_release_tag(transcript: Transcript, server: RegistryServer, tmp_path: Path) -> None:
    t = transcript
    layout, first, second = _two_images(tmp_path / "images")
    src = f"oci:{layout.path}"
    dest = f"docker://{server.host}/app"
    digest_file = tmp_path / "pushed-digest"
    t.skopeo("copy", "--digestfile", str(digest_file), f"{src}:one", f"{dest}:v1.0.0")
    recorded = digest_file.read_text().strip()
    assert recorded == first
    t.lines.append(f"# recorded digest of app:v1.0.0: {recorded}\n")
    t.cargohold("repository", "show-tags", "-n", "app", "--detail", "-o", "table")
    t.cargohold("repository", "update", "--image", "app:v1.0.0", "--write-enabled", "false", "-o", "table")
    refused = t.skopeo("copy", f"{src}:two", f"{dest}:v1.0.0", ok=False)
    assert "tag 'v1.0.0' in repository 'app' is locked (write-enabled: false)" in refused
    deleted = t.cargohold("repository", "delete", "--image", "app:v1.0.0", "--yes", code=1)
    assert deleted.stderr.strip() == "error: tag 'v1.0.0' in repository 'app' is locked (write-enabled: false)"
    inspected = t.skopeo("inspect", f"{dest}:v1.0.0")
    assert json.loads(inspected[:inspected.rindex("}") + 1])["Digest"] == recorded
    inspected = t.skopeo("inspect", f"{dest}@{recorded}")
    assert json.loads(inspected[:inspected.rindex("}") + 1])["Digest"] == recorded
    t.skopeo("copy", f"{dest}:v1.0.0", f"oci:{tmp_path / 'pulled'}:by-tag")
    t.skopeo("copy", f"{dest}@{recorded}", f"oci:{tmp_path / 'pulled'}:by-digest")
    t.cargohold("repository", "show", "--image", "app:v1.0.0", "-o", "table")
    shown = json.loads(t.cargohold("repository", "show-tags", "-n", "app", "--detail").stdout)
    assert [(x["name"], x["digest"]) for x in shown] == [("v1.0.0", recorded)] and second != recorded
    t.write("scenario-locked-release-tag.txt")


def test_overwritten_tag_leaves_the_old_manifest_pullable(transcript: Transcript, server: RegistryServer,
                                                          tmp_path: Path) -> None:
    t = transcript
    layout, first, second = _two_images(tmp_path / "images")
    src = f"oci:{layout.path}"
    dest = f"docker://{server.host}/web"
    t.skopeo("copy", f"{src}:one", f"{dest}:latest")
    t.skopeo("copy", f"{src}:two", f"{dest}:latest")  # overwrite: `first` is untagged now
    t.cargohold("repository", "show-tags", "-n", "web", "--detail", "-o", "table")
    t.cargohold("repository", "show-manifests", "-n", "web", "-o", "table")
    manifests = json.loads(t.cargohold("repository", "show-manifests", "-n", "web", "--orderby", "time_asc").stdout)
    assert {m["digest"]: m["tags"] for m in manifests} == {first: [], second: ["latest"]}
    inspected = t.skopeo("inspect", f"{dest}@{first}")
    assert json.loads(inspected[:inspected.rindex("}") + 1])["Digest"] == first
    t.skopeo("copy", f"{dest}@{first}", f"oci:{tmp_path / 'pulled'}:old")
    assert (tmp_path / "pulled" / "blobs" / "sha256" / first.split(":", 1)[1]).exists()
    t.write("scenario-overwritten-tag.txt")


def _storage_used(owner_cli: Transcript) -> int:
    rows = json.loads(owner_cli.cli.run("show-usage").stdout)["value"]
    return int(next(r["currentValue"] for r in rows if r["name"] == "Size"))


def test_push_refused_by_the_hard_quota_leaves_usage_unchanged(transcript: Transcript, server: RegistryServer,
                                                               tmp_path: Path) -> None:
    t = transcript
    layout = Layout(tmp_path / "images")
    base = make_layer({"etc/release": b"quota\n"})
    for ref in ("one", "two"):  # layers no other test pushed: each is new to the registry
        layout.image([base, make_layer({"app/bin": random_bytes(f"quota-{ref}", 64 * 1024)})], label=ref, ref=ref)
    src = f"oci:{layout.path}"
    dest = f"docker://{server.host}/quota/app"
    t.skopeo("copy", f"{src}:one", f"{dest}:v1")
    used = _storage_used(t)
    quota = used + 4096  # room for a manifest's worth, not for image two's new 64 KiB layer
    t.cargohold("update", "-n", "cargohold", "--storage-quota", str(quota), "-o", "table")
    try:
        t.cargohold("show-usage", "-o", "table")
        refused = t.skopeo("copy", f"{src}:two", f"{dest}:v2", ok=False)
        assert "storage quota of registry 'cargohold' exceeded" in refused, refused
        t.cargohold("show-usage", "-o", "table")
        assert _storage_used(t) == used
        tags = json.loads(t.cargohold("repository", "show-tags", "-n", "quota/app").stdout)
        assert tags == ["v1"], tags
    finally:
        t.cargohold("update", "-n", "cargohold", "--storage-quota", "none", "-o", "table")
    t.write("scenario-hard-quota.txt")
