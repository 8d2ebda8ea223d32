"""CPU per manifest GET with throttling off and on: wrk against /v2/<repo>/manifests/<tag>, bearer token.

    .venv/bin/python benchmarks/throttle_overhead.py [ROUNDS] [SECONDS] [CONNECTIONS]

Starts `cargohold serve --workers 1` on a fresh data dir for each run, pushes one small image,
gets a pull token, warms up, then runs wrk and reads the worker's CPU time (utime + stime) around
it. "on" uses limits too high ever to refuse, so every request pays for the full check (both
buckets taken in the shared table) and none is answered 429. Runs alternate off/on to spread
machine noise; medians are printed last.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CLK = os.sysconf("SC_CLK_TCK")
VARIANTS = {
    "off": {"CARGOHOLD_THROTTLING_ENABLED": "false"},
    "on": {"CARGOHOLD_THROTTLE_READS_PER_MINUTE": str(10**9), "CARGOHOLD_THROTTLE_IDENTITY_SHARE": "1"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def prepare(url: str, host: str) -> str:
    """Push a tiny image as the owner; a pull token for it."""
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": []}).encode()
    with httpx.Client(base_url=url, auth=("owner", "bench-password"), timeout=30) as c:
        r = c.post("/v2/bench/app/blobs/uploads/", params={"digest": config_digest}, content=config)
        assert r.status_code == 201, r.text
        r = c.put("/v2/bench/app/manifests/v1", content=manifest, headers={"Content-Type": MANIFEST})
        assert r.status_code == 201, r.text
        r = c.get("/oauth2/token", params={"service": host, "scope": "repository:bench/app:pull"})
        return str(r.json()["token"])


def run(env: dict[str, str], seconds: int, connections: int) -> tuple[float, float]:
    """(requests per second, worker CPU microseconds per request)."""
    data = Path(tempfile.mkdtemp(prefix="throttle-bench-"))
    host = f"127.0.0.1:{free_port()}"
    url = f"http://{host}"
    full_env = {**os.environ, "CARGOHOLD_OWNER_PASSWORD": "bench-password", **env}
    full_env.pop("CARGOHOLD_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "cargohold", "serve", "--listen", host, "--data-dir",
                             str(data / "d"), "--workers", "1"], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/v2/", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        token = prepare(url, host)
        pgrep = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        worker = int(pgrep.stdout.split()[0])
        wrk = ["wrk", "-t1", f"-c{connections}", "-H", f"Authorization: Bearer {token}", "-H", f"Accept: {MANIFEST}"]
        target = f"{url}/v2/bench/app/manifests/v1"
        subprocess.run([*wrk, "-d2s", target], capture_output=True, check=True)  # warm up
        before = cpu_seconds(worker)
        out = subprocess.run([*wrk, f"-d{seconds}s", target], capture_output=True, text=True, check=True).stdout
        used = cpu_seconds(worker) - before
        failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        assert failed is None, f"{failed.group(0)} (throttled?)"
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        return rps, used / requests * 1e6
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in VARIANTS}
    for r in range(rounds):
        order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
        for label in order:
            rps, us = run(VARIANTS[label], seconds, connections)
            results[label].append((rps, us))
            print(f"round {r + 1} {label:>3}: {rps:8.0f} req/s  {us:6.1f} us worker CPU per request", flush=True)
    for label, rs in results.items():
        rps = sorted(x[0] for x in rs)[len(rs) // 2]
        us = sorted(x[1] for x in rs)[len(rs) // 2]
        print(f"median {label:>3}: {rps:8.0f} req/s  {us:6.1f} us worker CPU per request")


if __name__ == "__main__":
    main()
