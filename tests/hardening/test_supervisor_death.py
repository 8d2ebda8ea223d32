"""Issue 8, hole 5: SIGKILL of the supervisor must not leave its workers serving as orphans; the
next start on the same port succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from support import RegistryServer


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie no one reaps has stopped serving


def test_workers_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "data", workers=2)
    server.start()
    supervisor = server.pid
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True,
                                              text=True).stdout.split()]
    try:
        assert len(workers) == 2
        os.kill(supervisor, signal.SIGKILL)
        assert server.proc is not None
        server.proc.wait()
        server.proc = None
        deadline = time.monotonic() + 40  # a worker's graceful shutdown is bounded by 30 s
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in workers), "workers outlived their supervisor"
        server.start()  # same port, same data dir: no "already in use"
        assert httpx.get(server.url + "/v2/", timeout=5).status_code == 401
    finally:
        for p in workers:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        server.stop()
