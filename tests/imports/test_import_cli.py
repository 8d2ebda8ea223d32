"""`cargohold import`: the result in every output format, one `error:` line on failure, and a progress bar
on stderr only when stderr is a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
from importtools import simple_image, unique

from cli.clitools import Cli
from support import DistributionServer, RegistryServer


def _cli(tmp_path: Path, server: RegistryServer) -> Cli:
    cli = Cli(tmp_path / "cli", server)
    if os.environ.get("PYTHONPATH"):
        cli.env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return cli


def test_import_prints_the_result_and_errors_as_one_line(
        tmp_path: Path, registry: RegistryServer, distribution: DistributionServer) -> None:
    src = unique("cli/src")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        digest, _, _ = simple_image(http, src, "v1", unique("cli"))
    cli = _cli(tmp_path, registry)
    target = unique("cli/imported")
    source = f"http://{distribution.host}/{src}:v1"

    result = cli.json("import", "--source", source, "--image", f"{target}:v1")
    assert result["digest"] == digest and result["tags"] == [f"{target}:v1"] and result["blobs"] == 2
    table = cli.ok("import", "--source", source, "-t", f"{target}:v2", "-o", "table")
    assert "Digest" in table and digest in table and f"{target}:v2" in table
    tsv = cli.ok("import", "--source", source, "--image", f"{target}:v3", "-o", "tsv")
    assert tsv.startswith(digest + "\t")

    message = cli.fails("import", "--source", "library/alpine:3.20", "--image", f"{target}:v4")
    assert "names no registry host" in message
    message = cli.fails("import", "--source", f"http://{distribution.host}/{src}:nope", "--image", f"{target}:v4")
    assert "no tag nope" in message
    # --source-username/-u and --source-password/-p are the source's; --username/--password stay Cargohold's.
    message = cli.fails("import", "--source", source, "--image", f"{target}:v5", "-p", "only-a-password", code=2)
    assert "--source-password needs --source-username" in message


def test_import_shows_a_progress_bar_on_a_terminal(
        tmp_path: Path, registry: RegistryServer, distribution: DistributionServer) -> None:
    src = unique("cli/big")
    with httpx.Client(base_url=distribution.url, timeout=120) as http:
        digest, _, _ = simple_image(http, src, "v1", unique("big"), layer_size=48 << 20)
    cli = _cli(tmp_path, registry)
    target = unique("cli/progress")
    master, slave = pty.openpty()
    env = dict(cli.env, COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "cargohold", "import", "--source",
                             f"http://{distribution.host}/{src}:v1", "--image", f"{target}:v1"],
                            env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    stdout = proc.stdout.read() if proc.stdout else b""
    assert proc.wait(30) == 0, (stdout, seen)
    assert b"importing 1 manifest(s), 2 blob(s)" in seen, seen[-2000:]
    assert digest.encode() in stdout


def test_import_into_another_registry_with_registry_option(
        tmp_path: Path, registry: RegistryServer, distribution: DistributionServer) -> None:
    """`-r NAME` addresses a registry by name: the image lands there and nowhere else."""
    src = unique("cli/other")
    with httpx.Client(base_url=distribution.url, timeout=60) as http:
        digest, _, _ = simple_image(http, src, "v1", unique("other"))
    name = unique("imp").replace("-", "")
    with httpx.Client(base_url=registry.url, auth=registry.basic_auth, timeout=30) as http:
        r = http.post("/api/registries", json={"name": name, "loginServer": f"{name}.example:443", "sku": "Premium"})
        assert r.status_code == 201, r.text
        owner = r.json()["ownerCredentials"]
    try:
        cli = _cli(tmp_path, registry)
        result = cli.json("-r", name, "--username", owner["username"], "--password", owner["password"],
                          "import", "--source", f"http://{distribution.host}/{src}:v1", "--image", "team/app:v1")
        assert result["digest"] == digest
        headers = {"X-Cargohold-Registry": name}
        with httpx.Client(base_url=registry.url, timeout=30,
                          auth=httpx.BasicAuth(owner["username"], owner["password"])) as http:
            r = http.get("/api/repositories/team/app/_tags", headers=headers)
            assert r.status_code == 200 and [t["name"] for t in r.json()] == ["v1"], r.text
        with httpx.Client(base_url=registry.url, auth=registry.basic_auth, timeout=30) as http:
            assert http.get("/api/repositories/team/app").status_code == 404  # not in the default registry
    finally:
        with httpx.Client(base_url=registry.url, auth=registry.basic_auth, timeout=30) as http:
            http.delete(f"/api/registries/{name}")
