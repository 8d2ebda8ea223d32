#!/usr/bin/env python3
"""Resident memory of a process tree (stdlib only; Linux /proc).

  rsstree.py now PID
      prints "rss_MiB pss_MiB nproc" for PID and all its descendants
      (rss = sum of VmRSS, counts shared pages once per process;
       pss = sum of Pss from smaps_rollup, shared pages split between sharers)

  rsstree.py sample PID OUTFILE [--interval 0.2] [--match SUBSTRING]
      appends "epoch_s rss_KiB in_phase" lines every --interval seconds until
      PID is gone or this sampler gets SIGTERM/SIGINT. in_phase is 1 while a
      process whose command line contains SUBSTRING exists (run.sh passes the
      destination of bench.sh's 1 GiB `skopeo copy` push), else 0: a
      "copy" command whose LAST argument contains SUBSTRING (so the pulls
      of the same image, whose last argument is dir:/oci:, do not count).

  rsstree.py summarize OUTFILE [--prefix push]
      prints bench.sh-style "metric value unit" lines:
        <prefix>_pre_rss_MiB     tree RSS just before the phase started
        <prefix>_peak_rss_MiB    highest tree RSS while the phase ran
        <prefix>_rss_growth_MiB  peak - pre (0 = flat)
        <prefix>_rss_samples     samples taken during the phase
        bench_peak_rss_MiB       highest tree RSS over the whole sampling
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def _ppids() -> dict[int, int]:
    out: dict[int, int] = {}
    for d in os.listdir(PROC):
        if not d.isdigit():
            continue
        try:
            stat = (PROC / d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(d)] = int(fields[1])
    return out


def tree(root: int) -> list[int]:
    """root and all its live descendants (threads are not separate processes here)."""
    kids: dict[int, list[int]] = {}
    for pid, ppid in _ppids().items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        p = todo.pop()
        if (PROC / str(p)).exists():
            found.append(p)
            todo.extend(kids.get(p, []))
    return found


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_kib(root: int) -> int:
    return sum(_status_kib(p, "VmRSS") for p in tree(root))


def _phase_running(needle: str) -> bool:
    for d in os.listdir(PROC):
        if not d.isdigit():
            continue
        try:
            cmd = (PROC / d / "cmdline").read_bytes()
        except OSError:
            continue
        args = cmd.rstrip(b"\0").split(b"\0")
        # a push: "... copy ... SRC DEST" with DEST (the last argument) matching
        if b"copy" in args and needle.encode() in args[-1]:
            return True
    return False


def cmd_now(root: int) -> int:
    pids = tree(root)
    if not pids:
        print(f"no process {root}", file=sys.stderr)
        return 1
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    pss = sum(_pss_kib(p) for p in pids)
    print(f"{rss / 1024:.0f} {pss / 1024:.0f} {len(pids)}")
    return 0


_stop = False


def _on_signal(signum: int, frame: object) -> None:
    global _stop
    _stop = True


def cmd_sample(root: int, outfile: str, interval: float, needle: str) -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with open(outfile, "a", buffering=1) as out:
        while not _stop and (PROC / str(root)).exists():
            t = time.time()
            rss = tree_rss_kib(root)
            phase = 1 if needle and _phase_running(needle) else 0
            out.write(f"{t:.3f} {rss} {phase}\n")
            time.sleep(max(0.0, interval - (time.time() - t)))
    return 0


def cmd_summarize(outfile: str, prefix: str) -> int:
    samples: list[tuple[float, int, int]] = []
    with open(outfile) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                samples.append((float(parts[0]), int(parts[1]), int(parts[2])))

    def mib(kib: int) -> str:
        return f"{kib / 1024:.0f}"

    in_phase = [i for i, s in enumerate(samples) if s[2] == 1]
    if in_phase:
        first = in_phase[0]
        pre = samples[first - 1][1] if first > 0 else samples[first][1]
        peak = max(samples[i][1] for i in in_phase)
        print(f"{prefix}_pre_rss_MiB {mib(pre)} MiB")
        print(f"{prefix}_peak_rss_MiB {mib(peak)} MiB")
        print(f"{prefix}_rss_growth_MiB {mib(max(0, peak - pre))} MiB")
        print(f"{prefix}_rss_samples {len(in_phase)} count")
    else:
        for m in ("pre_rss_MiB", "peak_rss_MiB", "rss_growth_MiB"):
            print(f"{prefix}_{m} NA MiB")
        print(f"{prefix}_rss_samples 0 count")
    if samples:
        print(f"bench_peak_rss_MiB {mib(max(s[1] for s in samples))} MiB")
    return 0


def main(argv: list[str]) -> int:
    args = argv[1:]
    opts: dict[str, str] = {}
    pos: list[str] = []
    i = 0
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if pos[:1] == ["now"] and len(pos) == 2:
        return cmd_now(int(pos[1]))
    if pos[:1] == ["sample"] and len(pos) == 3:
        return cmd_sample(int(pos[1]), pos[2], float(opts.get("interval", "0.2")), opts.get("match", ""))
    if pos[:1] == ["summarize"] and len(pos) == 2:
        return cmd_summarize(pos[1], opts.get("prefix", "push"))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
