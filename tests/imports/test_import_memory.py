"""Import streams: the server's memory does not grow with the size of the blob it copies.

The blob is IMPORT_TEST_MIB MiB (default 64; the report's figure was taken with 512). The resident set
of every process of the target server is sampled while the import runs.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from importtools import OCI_MANIFEST, canonical, imported, push_blob, push_manifest, sha256, unique

from support import OUTBOUND_LOOPBACK, DistributionServer, running_registry

MIB = 1 << 20


def _chunks(seed: str, total: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = total
    while left:
        n = min(4 * MIB, left)
        yield rng.randbytes(n)
        left -= n


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _processes(root: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout.split()
    return [root, *(int(c) for c in children)]


def test_a_large_import_streams(tmp_path: Path, distribution: DistributionServer) -> None:
    size = int(os.environ.get("IMPORT_TEST_MIB", "64")) * MIB
    seed = unique("big")
    digest = "sha256:" + _hash(_chunks(seed, size))
    src = unique("big/src")
    with httpx.Client(base_url=distribution.url, timeout=600) as http:
        push_blob(http, src, _chunks(seed, size), digest)
        config = canonical({"architecture": "amd64", "os": "linux"})
        push_blob(http, src, config)
        manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                              "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                         "digest": sha256(config), "size": len(config)},
                              "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                          "digest": digest, "size": size}]})
        push_manifest(http, src, "v1", manifest, OCI_MANIFEST)

    with running_registry(tmp_path / "target", workers=1, extra_env=OUTBOUND_LOOPBACK) as target:
        pids = _processes(target.pid)
        time.sleep(0.5)
        # Warm the control plane (FastAPI is built on the first /api request) before the baseline.
        with httpx.Client(base_url=target.url, auth=target.basic_auth, timeout=30) as http:
            http.get("/api/registry")
        before = {pid: _rss_kib(pid) for pid in pids}
        peak = dict(before)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for pid in pids:
                    peak[pid] = max(peak[pid], _rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            result = imported(target, f"http://{distribution.host}/{src}:v1", "big/copy:v1")
        finally:
            elapsed = time.monotonic() - started
            stop.set()
            sampler.join()
        assert result.last["bytes"] == size + len(config)
        assert len(result.of("progress")) >= size // (8 * MIB) - 1  # periodic progress while a blob streams
        growth = max(peak[pid] - before[pid] for pid in pids)
        print(f"\nimport of {size // MIB} MiB: RSS before {before} KiB, peak {peak} KiB, "
              f"largest growth {growth // 1024} MiB, {elapsed:.1f} s ({size / MIB / elapsed:.0f} MiB/s)")
        assert growth < 48 * 1024, f"RSS grew by {growth} KiB while importing {size // MIB} MiB"


def _hash(chunks: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()
