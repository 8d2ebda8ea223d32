"""Issue 9 with a real client: skopeo fills a small tmpfs data dir with pushes, the push that would eat
into the free-space reserve is refused with a clear 403, pulls by tag and digest and GET /v2/ (Basic and
bearer) keep working, no worker dies, `cargohold repository delete` frees room and the next push goes
through — on the metadata database of the run: SQLite on the same tmpfs, or PostgreSQL
(CARGOHOLD_TEST_DATABASE_URL) beside the full blob disk. The sequence (fill, pull, refused push, delete,
push again) is written to $CARGOHOLD_TRANSCRIPT_DIR/disk-full-<database>.txt when that is set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from clienttools import Clients
from clitools import Cli
from disktools import check_consistent, upload_files, worker_exits
from ociimages import Layout, make_layer, random_bytes
from test_scenarios import Transcript

from support import RegistryServer, require_tool

pytestmark = pytest.mark.clients

MIB = 1 << 20
LAYER = 6 * MIB
RESERVE = 8 * MIB


def _usage(t: Transcript) -> dict[str, dict[str, int]]:
    rows = json.loads(t.cli.run("show-usage").stdout)["value"]
    return {r["name"]: {"limit": int(r["limit"]), "current": int(r["currentValue"])} for r in rows}


def _note(t: Transcript, line: str) -> None:
    t.lines += [f"# {line}", ""]


def test_fill_pull_refuse_delete_push(tmpfs: Any, tmp_path: Path) -> None:
    require_tool("skopeo")
    data = tmpfs("48m")
    server = RegistryServer(data, workers=2, extra_env={"CARGOHOLD_STORAGE_RESERVE_BYTES": str(RESERVE),
                                                        "CARGOHOLD_STORAGE_RESERVE_PERCENT": "0"})
    database = "postgresql" if "CARGOHOLD_DATABASE_URL" in server.env else "sqlite"
    layout = Layout(tmp_path / "images")
    for i in range(8):
        layout.image([make_layer({"data": random_bytes(f"fill{i}", LAYER)})], label=f"fill{i}", ref=f"fill{i}")
    server.start()
    clients = Clients(tmp_path / "clients", server)
    try:
        t = Transcript(Cli(tmp_path / "cli", server), clients, server)
        _note(t, f"{database} metadata; data dir on a 48 MiB tmpfs; free-space reserve {RESERVE} bytes; "
                 f"each image one {LAYER}-byte layer; 2 workers")
        src, dest = f"oci:{layout.path}", f"docker://{server.host}"
        digests: list[str] = []
        refused = ""
        for i in range(8):  # fill: push until the registry refuses
            digest_file = tmp_path / f"digest{i}"
            try:
                t.skopeo("copy", "--digestfile", str(digest_file), f"{src}:fill{i}", f"{dest}/fill{i}:v1")
            except AssertionError:
                refused = "\n".join(t.lines[-4:])
                break
            digests.append(digest_file.read_text().strip())
        assert len(digests) >= 3, "the disk should hold a few images before it is full"
        assert len(digests) < 8, "the disk never filled"
        failed = len(digests)
        assert "storage full: " in refused and "bytes free" in refused and "kept in reserve" in refused, refused
        assert sum(upload_files(server).values()) == 0, upload_files(server)  # no partial bytes stay
        check_consistent(server)

        # pulls by tag and by digest, and the base endpoint with Basic and with a bearer token
        t.skopeo("copy", f"{dest}/fill0:v1", f"oci:{tmp_path / 'pulled'}:by-tag")
        t.skopeo("copy", f"{dest}/fill1@{digests[1]}", f"oci:{tmp_path / 'pulled'}:by-digest")
        basic = httpx.get(server.url + "/v2/", auth=server.basic_auth)
        token = httpx.get(server.url + "/oauth2/token", auth=server.basic_auth,
                          params={"service": server.host, "scope": "repository:fill0:pull"})
        bearer = httpx.get(server.url + "/v2/", headers={"Authorization": f"Bearer {token.json()['token']}"})
        ready = httpx.get(server.url + "/readyz")
        _note(t, f"GET /v2/ with Basic -> {basic.status_code}; GET /oauth2/token -> {token.status_code}; "
                 f"GET /v2/ with Bearer -> {bearer.status_code}")
        _note(t, f"GET /readyz -> {ready.status_code} {ready.text}")
        assert (basic.status_code, token.status_code, bearer.status_code, ready.status_code) == (200, 200, 200, 200)

        t.cargohold("show-usage", "-o", "table")
        before = _usage(t)
        assert before["StorageCapacity"]["limit"] == 48 * MIB and before["StorageFree"]["limit"] == RESERVE
        t.cargohold("repository", "delete", "-n", "fill0", "--yes")
        t.cargohold("show-usage", "-o", "table")
        after = _usage(t)
        freed = after["StorageFree"]["current"] - before["StorageFree"]["current"]  # less what the database grew
        assert freed >= LAYER - MIB, (before, after)
        assert before["Size"]["current"] - after["Size"]["current"] >= LAYER, (before, after)

        t.skopeo("copy", f"{src}:fill{failed}", f"{dest}/fill{failed}:v1")  # the refused push, now with room
        t.skopeo("copy", f"{dest}/fill{failed}:v1", f"oci:{tmp_path / 'pulled'}:again")
        check_consistent(server)
        exits = worker_exits(server)
        _note(t, f"supervisor: {len(exits)} worker restarts")
        assert exits == []
        t.write(f"disk-full-{database}.txt")
    finally:
        clients.close()
        server.stop()
        os.sync()
