"""core/blocking.py against the standard library's thread offloads, on a registry-like load.

Compared: `blocking` (our pool), `loop.run_in_executor` on a bounded ThreadPoolExecutor of the same
size, and `asyncio.to_thread` (the loop's default executor: min(32, cpus + 4) threads). The size is
the SQLAlchemy pool of the SQLite engine (metadata/sql.py's create_engine: pool_size + max_overflow),
read from the engine.

Loads (each run: CONCURRENCY tasks issuing CALLS calls in total):
- lookup: an indexed SQLite SELECT by primary key (what a blob HEAD or manifest GET does);
- mixed:  lookups, 0.5 ms sleeps (a disk write or fsync releasing the GIL) and 64 KiB sha256 updates;
- wait:   2 ms sleeps (a PostgreSQL query's network round trip: the thread waits, the GIL is free).

Run from the repository root:  PYTHONPATH=src python benchmarks/blocking_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cargohold.core.blocking as blocking_module
from cargohold.core.blocking import blocking
from cargohold.metadata.sql import create_engine

CALLS = 20_000
CONCURRENCY = 64
ROWS = 100_000
_local = threading.local()
_CHUNK = b"x" * 65536


def _make_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER)")
    con.executemany("INSERT INTO blobs VALUES (?, ?)", ((f"sha256:{i:064x}", i) for i in range(ROWS)))
    con.commit()
    con.close()


def lookup(path: str, i: int) -> int:
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = sqlite3.connect(path, check_same_thread=False)
    row = con.execute("SELECT size FROM blobs WHERE digest = ?", (f"sha256:{i % ROWS:064x}",)).fetchone()
    return int(row[0])


def mixed(path: str, i: int) -> int:
    kind = i % 4
    if kind == 1:
        time.sleep(0.0005)
        return 0
    if kind == 2:
        return len(hashlib.sha256(_CHUNK).digest())
    return lookup(path, i)


def wait(path: str, i: int) -> int:
    time.sleep(0.002)
    return i


Offload = Callable[..., Awaitable[Any]]


async def _run(offload: Offload, fn: Callable[[str, int], int], path: str) -> float:
    counter = iter(range(CALLS))

    async def task() -> None:
        for i in counter:
            await offload(fn, path, i)

    start = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
    return CALLS / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench.db"
        _make_db(path)
        engine = create_engine(f"sqlite:///{path}")
        threads = blocking_module.pool_limit(engine)
        engine.dispose()
        blocking_module.configure(threads)
        executor = ThreadPoolExecutor(max_workers=threads)

        async def in_executor(fn: Callable[..., Any], *a: Any) -> Any:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *a)

        offloads: dict[str, Offload] = {"core.blocking": blocking, f"run_in_executor({threads})": in_executor,
                                        "asyncio.to_thread": asyncio.to_thread}
        loads = {"lookup": lookup, "mixed": mixed, "wait": wait}
        print(f"threads={threads} calls={CALLS} concurrency={CONCURRENCY} rounds={args.rounds}")
        rates: dict[tuple[str, str], list[float]] = {(lo, of): [] for lo in loads for of in offloads}
        for _ in range(args.rounds):  # interleaved, so a busy moment of the machine hits every contender
            for load_name, fn in loads.items():
                for name, offload in offloads.items():
                    rates[load_name, name].append(asyncio.run(_run(offload, fn, str(path))))
        for (load_name, name), found in rates.items():
            print(f"{load_name:7s} {name:22s} median {statistics.median(found):8.0f} calls/s  "
                  f"(min {min(found):.0f}, max {max(found):.0f})")
        executor.shutdown()


if __name__ == "__main__":
    main()
